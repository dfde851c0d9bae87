"""Settings -> a ready (not yet started) ``Generator``. New backends register a loader here."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import DecodingSettings, Settings, read_model_decoding
from bot.generation.backends import Backend, TransformersBackend
from bot.generation.errors import ModelLoadError
from bot.generation.service import Generator


def _load_transformers(settings: Settings) -> Backend:
    return TransformersBackend.load(settings.model_path, torch_threads=settings.torch_threads)


def _load_ctranslate2(settings: Settings) -> Backend:
    from bot.generation.ctranslate2_backend import CTranslate2Backend  # optional extra "fast"

    return CTranslate2Backend.load(settings.model_path, compute_type=settings.ct2_compute_type,
                                   threads=settings.torch_threads, decoding=serving_decoding(settings))


BACKEND_LOADERS: dict[str, Callable[[Settings], Backend]] = {
    "transformers": _load_transformers,
    "ctranslate2": _load_ctranslate2,
}
"""``MODEL_BACKEND`` value -> a function loading that backend (raises ``ModelLoadError``)."""


def load_backend(settings: Settings) -> Backend:
    try:
        loader = BACKEND_LOADERS[settings.model_backend]
    except KeyError:
        raise ModelLoadError(
            f"unknown MODEL_BACKEND {settings.model_backend!r}; known: {', '.join(sorted(BACKEND_LOADERS))}"
        ) from None
    return loader(settings)


def serving_decoding(settings: Settings) -> DecodingSettings:
    """The decoding the model directory carries (as it was evaluated), with the environment's overrides."""
    return settings.serving_decoding(read_model_decoding(settings.model_path))


def build_generator(settings: Settings) -> Generator:
    """Load the model (slow: seconds to minutes) and wrap it in a Generator; ``await start()`` it next."""
    return Generator(
        load_backend(settings),
        batch_max_size=settings.batch_max_size,
        batch_max_wait_ms=settings.batch_max_wait_ms,
        timeout_s=settings.generation_timeout_s,
        decoding=serving_decoding(settings),
        selection=settings.selection,
    )
