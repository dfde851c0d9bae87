"""``python -m training.models.export RUN_MODEL_DIR DEST [--fp16]``: a trained model into the shipped location.

    python -m training.models.export runs/ru_mix_cpu/model models/ru-persona-t5 --fp16

Writes the weights as safetensors (half precision with ``--fp16``; the bot computes in float32
whatever is on disk), the tokenizer, the run files and the evaluation results; for LoRA adapters over
a registered base, the adapters, ``base_model.json`` and ``kept_tokens.json`` instead of full weights
and tokenizer (the bot brings the base from its package). Then it checks
that the weights fit the repository (``MAX_WEIGHTS_MB``), that the bot's backend loads the
result and answers, and re-renders the model card for the shipped weights. DEST is replaced
whole (stale CTranslate2 conversions go with it), but only if it is a model directory.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from bot.generation.adapted import ADAPTER_CONFIG, KEPT_TOKENS_FILE, is_adapter_dir
from bot.config import DECODING_FILE
from bot.generation.base_models import BASE_FILE, copy_terms, read_base_file
from bot.generation.errors import ModelLoadError
from dialogue.format import FORMAT_FILE
from training.models.checkpoints import EXPERIMENT_FILE
from training.evaluation.model_card import CARD_FILE, write_model_card
from training.evaluation.report import BASELINES_FILE, LOSS_CURVE_FILE, METRICS_FILE, REPORT_FILE

MAX_WEIGHTS_MB = 60.0
"""The largest weights file the repository takes (git, no LFS)."""
RUN_FILES = (FORMAT_FILE, EXPERIMENT_FILE, "trainer_log.json", METRICS_FILE, BASELINES_FILE, REPORT_FILE,
             LOSS_CURVE_FILE, "decoding.json", "decoding.md", "checks.json", DECODING_FILE)
ADAPTER_WEIGHTS = "adapter_model.safetensors"
"""Copied as they are when present (the first two are required: the bot and the card need them)."""
PROBE = ("Привет! Чем ты занимаешься?",)


class ExportError(Exception):
    """The source is no model directory, the destination is something else, or the weights are too big."""


def export_model(source: Path, dest: Path, *, fp16: bool = False, max_mb: float = MAX_WEIGHTS_MB) -> Path:
    """Write ``source`` as a shipped model directory at ``dest`` and return ``dest``."""
    source, dest = Path(source), Path(dest)
    adapters = is_adapter_dir(source)
    weights_file = ADAPTER_CONFIG if adapters else "config.json"
    missing = [name for name in (weights_file, FORMAT_FILE, EXPERIMENT_FILE) if not (source / name).is_file()]
    if adapters and not (source / KEPT_TOKENS_FILE).is_file():
        missing.append(f"{KEPT_TOKENS_FILE} (python -m training.models.vocabulary {source})")
    if missing:
        raise ExportError(f"{source} is no trained model directory: {', '.join(missing)} missing")
    if dest.exists() and not (dest / FORMAT_FILE).is_file():
        raise ExportError(f"{dest} exists and is not a model directory: not replacing it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the destination and swap it in: a failed export leaves the old model in place.
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    work.chmod(0o755)  # mkdtemp's 0700 would hide the shipped model from the bot's own user
    try:
        if adapters:  # the adapters and what names their base; the base's tokenizer comes with the base
            _export_adapters(source, work, fp16=fp16)
        else:
            _export_full(source, work, fp16=fp16)
        for name in RUN_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, work / name)
        size_mb = weights_mb(work)
        if size_mb > max_mb:
            raise ExportError(f"the weights take {size_mb:.1f} MB, more than {max_mb:g} MB (try --fp16)")
        check_loads(work)
        write_model_card(work)  # the card names the shipped weights' size and dtype
        shutil.rmtree(dest, ignore_errors=True)
        work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def _export_full(source: Path, work: Path, *, fp16: bool) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    config = AutoConfig.from_pretrained(source)
    model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    model = model_class.from_pretrained(source, config=config, dtype=torch.float32)
    model = model.half() if fp16 else model
    model.save_pretrained(work, safe_serialization=True)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.is_fast:  # the truncation/padding of training's last call is saved with it: not the model's
        tokenizer.backend_tokenizer.no_truncation()
        tokenizer.backend_tokenizer.no_padding()
    tokenizer.save_pretrained(work)


def _export_adapters(source: Path, work: Path, *, fp16: bool) -> None:
    from safetensors.torch import load_file, save_file

    info = read_base_file(source)  # fails on an unknown base or GGUF hash
    for name in (ADAPTER_CONFIG, BASE_FILE, KEPT_TOKENS_FILE):
        shutil.copy2(source / name, work / name)
    copy_terms(info["name"], work)  # a model derived from the base carries its licence and notice
    weights = load_file(str(source / ADAPTER_WEIGHTS))
    save_file({k: (v.half() if fp16 else v).contiguous() for k, v in weights.items()}, str(work / ADAPTER_WEIGHTS))


def weights_mb(model_dir: Path) -> float:
    return sum(p.stat().st_size for p in Path(model_dir).glob("*.safetensors")) / 2**20


def check_loads(model_dir: Path) -> str:
    """The bot's own backend loads ``model_dir`` in float32 and gives a non-empty reply to a probe."""
    from bot.generation import TransformersBackend
    from training.evaluation.predict import GREEDY

    backend = TransformersBackend.load(str(model_dir))
    if backend.model.dtype != torch.float32:
        raise ExportError(f"the bot loaded {model_dir} as {backend.model.dtype}, not float32")
    [reply] = backend.generate([backend.format.build_input(["Я люблю читать."], PROBE)], GREEDY)
    if not reply:
        raise ExportError(f"{model_dir} loads but answers {PROBE[0]!r} with an empty reply")
    return reply


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.models.export", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="a model directory written by training.run (e.g. runs/X/model)")
    parser.add_argument("dest", type=Path, help="where to ship it, e.g. models/ru-persona-t5")
    parser.add_argument("--fp16", action="store_true", help="half precision on disk (the bot computes in float32)")
    args = parser.parse_args(argv)
    try:
        dest = export_model(args.source, args.dest, fp16=args.fp16)
    except (ExportError, ModelLoadError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported {args.source} -> {dest}: {weights_mb(dest):.1f} MB of weights; files: "
          + ", ".join(sorted(p.name for p in dest.iterdir())))
    print(f"model card: {dest / CARD_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
