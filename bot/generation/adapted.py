"""Model directories that ship only what fine-tuning added: LoRA adapters over a named base.

Such a directory holds ``adapter_config.json`` + ``adapter_model.safetensors`` (``peft``),
``base_model.json`` (which base, from which source: ``base_models.py``), ``dialogue_format.json``
and, optionally, ``kept_tokens.json``: the token ids the training data uses. Loading merges the
adapters into the base (no LoRA cost per token) and, with ``kept_tokens.json``, trims the
vocabulary to those ids. Gemma's 262k-token embedding is also its output layer: 63% of its
weights, read once per generated token. Trimmed to the ~50k tokens of Russian chat, a token costs
less than half (docs/benchmark.md). The model then never writes a token it never saw in training;
input tokens outside the set read as ``<unk>`` (their share in the test split is in the model card).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from bot.generation.base_models import prepare_base, read_base_file
from bot.generation.encoder_decoder import ARCHITECTURE, encoder_decoder_from_causal
from bot.generation.errors import ModelLoadError

ADAPTER_CONFIG = "adapter_config.json"
KEPT_TOKENS_FILE = "kept_tokens.json"


def is_adapter_dir(path: Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def load_adapted(path: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of an adapter directory, in float32, adapters merged, vocabulary trimmed."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    info = read_base_file(path)
    if info is None:
        raise ModelLoadError(f"model directory {path} has LoRA adapters but no base_model.json naming their base")
    base_dir, _ = prepare_base(info["name"], info["source"])
    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    if info.get("architecture") == ARCHITECTURE:  # trained as the encoder-decoder built from the base
        base = encoder_decoder_from_causal(base)
    with warnings.catch_warnings():  # peft asks transformers a deprecated question: noise in the console chat
        warnings.simplefilter("ignore", FutureWarning)
        model = PeftModel.from_pretrained(base, str(path)).merge_and_unload().eval()
    kept = read_kept_tokens(path)
    return (model if kept is None else trim_vocabulary(model, kept)), load_adapted_tokenizer(path, base_dir)


def load_adapted_tokenizer(path: Path, base_dir: Path | None = None) -> Any:
    """The tokenizer of an adapter directory: its own or its base's, with the trimmed vocabulary's ids."""
    from transformers import AutoTokenizer

    if base_dir is None and not (path / "tokenizer_config.json").is_file():
        info = read_base_file(path)
        if info is None:
            raise ModelLoadError(f"model directory {path} has LoRA adapters but no base_model.json naming their base")
        base_dir, _ = prepare_base(info["name"], info["source"])
    tokenizer_dir = path if (path / "tokenizer_config.json").is_file() else base_dir
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    kept = read_kept_tokens(path)
    return tokenizer if kept is None else TrimmedTokenizer(tokenizer, kept)


def read_kept_tokens(path: Path) -> list[int] | None:
    file = Path(path) / KEPT_TOKENS_FILE
    if not file.is_file():
        return None
    kept = json.loads(file.read_text(encoding="utf-8"))
    if kept != sorted(set(kept)) or kept[:4] != [0, 1, 2, 3]:
        # Sorted, with the special ids 0-3 (pad, eos, bos, unk) first: they keep their ids.
        raise ModelLoadError(f"{file}: token ids must be sorted, distinct and start with 0, 1, 2, 3")
    return kept


def write_kept_tokens(path: Path, token_ids: set[int]) -> Path:
    file = Path(path) / KEPT_TOKENS_FILE
    file.write_text(json.dumps(sorted(token_ids | {0, 1, 2, 3})) + "\n", encoding="utf-8")
    return file


def trim_vocabulary(model: Any, kept: list[int]) -> Any:
    """``model`` whose (tied) embeddings and output layer hold only the ``kept`` rows, in that order.

    Every embedding of the full vocabulary's size shares the one trimmed matrix (T5Gemma 2 has one in
    its encoder and one in its decoder, tied), and so does the output layer.
    """
    if not model.config.tie_word_embeddings:
        raise ModelLoadError("vocabulary trimming expects tied input and output embeddings")
    full = model.get_input_embeddings().weight.shape[0]
    trimmed = torch.nn.Parameter(model.get_input_embeddings().weight.data[torch.tensor(kept)].clone(),
                                 requires_grad=False)
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding) and module.weight.shape[0] == full:
            module.weight, module.num_embeddings = trimmed, len(kept)
    output = model.get_output_embeddings()
    output.weight, output.out_features = trimmed, len(kept)
    for module in model.modules():  # the loss reshapes logits by a vocabulary size cached at init
        if getattr(module, "vocab_size", None) == full:
            module.vocab_size = len(kept)
    new_id = {old: new for new, old in enumerate(kept)}
    configs = [model.config, model.generation_config]
    configs += [c for c in (getattr(model.config, "decoder", None), getattr(model.config, "encoder", None)) if c]
    configs += [c.text_config for c in configs[2:] if getattr(c, "text_config", None) is not None]
    for config in configs:  # the special ids 0-3 stay where they were
        if getattr(config, "vocab_size", None) == full:
            config.vocab_size = len(kept)
        for key in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(config, key, None)
            if isinstance(value, list):
                setattr(config, key, [new_id[v] for v in value if v in new_id])
            elif value is not None:
                setattr(config, key, new_id.get(value, value if value < 4 else None))
    return model


class TrimmedTokenizer:
    """A transformers tokenizer whose ids are those of a trimmed vocabulary (unknown tokens -> ``<unk>``).

    Serves the bot's needs: ``__call__`` (with padding and truncation), ``decode``/``batch_decode``,
    token <-> id conversion (CTranslate2), the special token ids and the padding side.
    """

    def __init__(self, tokenizer: Any, kept: list[int]) -> None:
        self.inner = tokenizer
        self.kept = torch.tensor(kept)
        self.to_new = torch.full((len(tokenizer),), tokenizer.unk_token_id, dtype=torch.long)
        self.to_new[self.kept] = torch.arange(len(kept))

    def __getattr__(self, name: str) -> Any:  # special tokens, padding_side, eos_token, ...
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("inner", "kept", "to_new"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)

    def __len__(self) -> int:
        return len(self.kept)

    def __call__(self, text: Any, **kwargs: Any) -> Any:
        encoded = self.inner(text, **kwargs)
        ids = encoded["input_ids"]
        if isinstance(ids, torch.Tensor):
            encoded["input_ids"] = self.to_new[ids]
        elif ids and isinstance(ids[0], list):
            encoded["input_ids"] = [self.to_new[row].tolist() if row else [] for row in ids]
        else:
            encoded["input_ids"] = self.to_new[ids].tolist() if ids else []
        return encoded

    def old_ids(self, ids: Any) -> list[int]:
        return self.kept[torch.as_tensor(ids, dtype=torch.long)].tolist()

    def decode(self, ids: Any, **kwargs: Any) -> str:
        return self.inner.decode(self.old_ids(ids), **kwargs)

    def batch_decode(self, rows: Any, **kwargs: Any) -> list[str]:
        return [self.decode(row, **kwargs) for row in rows]

    def convert_ids_to_tokens(self, ids: Any) -> list[str]:
        return self.inner.convert_ids_to_tokens(self.old_ids(ids))

    def convert_tokens_to_ids(self, tokens: Any) -> Any:
        old = self.inner.convert_tokens_to_ids(tokens)
        return self.to_new[torch.as_tensor(old)].tolist()

    def get_vocab(self) -> dict[str, int]:
        return dict(zip(self.inner.convert_ids_to_tokens(self.kept.tolist()), range(len(self.kept))))
