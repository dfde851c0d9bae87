"""A CTranslate2 backend (extra ``fast``): the same replies interface, int8 CPU inference.

The transformers model directory is converted once and cached beside it, in
``<model_dir>/ctranslate2-<compute_type>/``; if the model directory is read-only, in
``$CTRANSLATE2_CACHE_DIR`` (default ``~/.cache/persona-bot/ctranslate2``). A stamp file in
the cache names the source weights' id (a hash of their contents) and the quantization:
when the weights change, the next load converts again.

Only Seq2Seq models (``godel``/``concat`` formats) are served. Contrastive search does not
exist in CTranslate2: asking for it is an error at load time (``ModelLoadError``) and per
request (``GenerationError``), never a silent change of decoding.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import DecodingSettings
from bot.generation.backends import _check_local_dir, _local_model_id
from bot.generation.errors import GenerationError, ModelLoadError
from dialogue.format import FormatSpec

log = logging.getLogger(__name__)

COMPUTE_TYPES = ("int8", "int8_float32", "int16", "float32")
"""CPU compute types; the weights are also stored quantized this way."""
DEFAULT_COMPUTE_TYPE = "int8"
STAMP_FILE = "converted_from.json"
CACHE_ENV = "CTRANSLATE2_CACHE_DIR"


@dataclass
class CTranslate2Backend:
    """A converted Seq2Seq model run by ``ctranslate2.Translator``; tokenised by the HF tokenizer."""

    translator: Any
    tokenizer: Any
    format: FormatSpec
    model_id: str
    compute_type: str

    @classmethod
    def load(
        cls,
        model_path: str,
        *,
        compute_type: str = DEFAULT_COMPUTE_TYPE,
        threads: int = 0,
        decoding: DecodingSettings | None = None,
    ) -> CTranslate2Backend:
        """Convert (once) and load a local model directory; ``threads=0`` lets CTranslate2 choose."""
        if compute_type not in COMPUTE_TYPES:
            raise ModelLoadError(f"CTranslate2 compute type must be one of {', '.join(COMPUTE_TYPES)}, got {compute_type!r}")
        if decoding is not None and decoding.strategy == "contrastive":
            raise ModelLoadError(
                "DECODING_STRATEGY=contrastive is not available with MODEL_BACKEND=ctranslate2; "
                "use greedy, beam or sampling, or MODEL_BACKEND=transformers"
            )
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise ModelLoadError(f"MODEL_BACKEND=ctranslate2 needs a local model directory; {path} is not one")
        spec = _check_local_dir(path)
        if spec.is_causal:
            raise ModelLoadError(f"model {path}: MODEL_BACKEND=ctranslate2 serves Seq2Seq formats only, not {spec.name!r}")
        source_id = _local_model_id(path)
        try:
            import ctranslate2
            from transformers import AutoTokenizer
            from transformers.utils.logging import disable_progress_bar

            disable_progress_bar()  # the converter loads the model with transformers
            converted = ensure_converted(path, source_id, compute_type)
            translator = ctranslate2.Translator(
                str(converted), device="cpu", compute_type=compute_type, inter_threads=1, intra_threads=threads
            )
            tokenizer = AutoTokenizer.from_pretrained(str(path))
        except ImportError as exc:
            raise ModelLoadError(f"MODEL_BACKEND=ctranslate2 needs the 'fast' extra (pip install .[fast]): {exc}") from exc
        except ModelLoadError:
            raise
        except Exception as exc:  # conversion and loading raise many kinds of errors
            raise ModelLoadError(f"model {path}: CTranslate2 conversion or loading failed: {exc}") from exc
        return cls(translator, tokenizer, spec, f"{source_id}+ct2-{compute_type}", compute_type)

    def generate(self, inputs: list[str], decoding: DecodingSettings) -> list[str]:
        encoded = self.tokenizer(inputs, truncation=True, max_length=self.format.max_source_tokens)["input_ids"]
        source = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded]
        results = self.translator.translate_batch(source, **translate_options(decoding, self.format))
        replies = [self.tokenizer.convert_tokens_to_ids(r.hypotheses[0]) for r in results]
        return [text.strip() for text in self.tokenizer.batch_decode(replies, skip_special_tokens=True)]


def translate_options(decoding: DecodingSettings, spec: FormatSpec) -> dict[str, Any]:
    """``DecodingSettings`` -> ``Translator.translate_batch`` keyword arguments."""
    options: dict[str, Any] = {
        "max_decoding_length": decoding.max_new_tokens or spec.max_target_tokens,
        "no_repeat_ngram_size": decoding.no_repeat_ngram_size,
        "repetition_penalty": decoding.repetition_penalty,
    }
    if decoding.strategy == "greedy":
        return {**options, "beam_size": 1}
    if decoding.strategy == "beam":
        return {**options, "beam_size": decoding.num_beams}
    if decoding.strategy == "sampling":
        return {
            **options,
            "beam_size": 1,
            "sampling_topk": decoding.top_k,
            "sampling_topp": decoding.top_p,
            "sampling_temperature": decoding.temperature,
        }
    raise GenerationError(f"decoding strategy {decoding.strategy!r} is not available with CTranslate2")


def ensure_converted(model_dir: Path, source_id: str, compute_type: str) -> Path:
    """The cached conversion of ``model_dir``; converts when missing or made from other weights."""
    target = cache_dir(model_dir, source_id, compute_type)
    stamp = {"source": source_id, "quantization": compute_type}
    if _read_stamp(target) == stamp:
        return target
    from ctranslate2.converters import TransformersConverter

    log.info("converting %s to CTranslate2 (%s) in %s", model_dir, compute_type, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert beside the target and swap it in: a crash mid-way never leaves a half cache.
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        out = work / "model"
        TransformersConverter(str(model_dir)).convert(str(out), quantization=compute_type)
        (out / STAMP_FILE).write_text(json.dumps(stamp) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def cache_dir(model_dir: Path, source_id: str, compute_type: str) -> Path:
    """Beside the weights if the model directory is writable, else in the user's cache."""
    if os.access(model_dir, os.W_OK):
        return model_dir / f"ctranslate2-{compute_type}"
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "persona-bot" / "ctranslate2").expanduser()
    return root / f"{source_id.replace('@', '-')}-{compute_type}"


def _read_stamp(target: Path) -> dict[str, str] | None:
    try:
        return json.loads((target / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
