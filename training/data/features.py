"""``source_text`` / ``target_text`` -> token ids and labels, for training and for perplexity.

Seq2Seq: the encoder reads the source, the labels are the reply and EOS.

CausalLM: input = prompt + reply + EOS, labels = the same ids with the *prompt masked*
(-100): the model learns to write replies, not to reproduce persona facts and history,
which is the Seq2Seq objective in decoder-only form. The shift by one happens inside the
model. The prompt and the reply are encoded separately and concatenated, exactly as at
serving time (prompt ids, then generated ids). A too long prompt loses its *start*: its
end (the latest turns and the separator the reply follows) must stay.

Padding is done per batch by ``DataCollatorForSeq2Seq``: labels are padded with -100.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transformers import DataCollatorForSeq2Seq, PreTrainedModel, PreTrainedTokenizerBase

from bot.generation.backends import IGNORE, scored_row
from dialogue.format import FormatSpec

IGNORE_INDEX = IGNORE


def encoder(tokenizer: PreTrainedTokenizerBase, spec: FormatSpec) -> Callable[[dict[str, list]], dict[str, list]]:
    """A batched ``Dataset.map`` function for ``spec``'s kind of model: each pair encoded as the bot scores it
    (``bot.generation.backends.scored_row``)."""

    def encode(batch: dict[str, list]) -> dict[str, list]:
        out: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": []}
        for source, target in zip(batch["source_text"], batch["target_text"]):
            ids, labels = scored_row(tokenizer, spec, source, target)
            out["input_ids"].append(ids)
            out["attention_mask"].append([1] * len(ids))
            out["labels"].append(labels)
        return out

    return encode


def tokenize_split(split: Any, tokenizer: PreTrainedTokenizerBase, spec: FormatSpec, *, desc: str = "tokenize") -> Any:
    """``split`` (with source_text/target_text) -> input_ids, attention_mask, labels only."""
    return split.map(encoder(tokenizer, spec), batched=True, remove_columns=split.column_names, desc=desc)


def collator(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> DataCollatorForSeq2Seq:
    """Pads a batch; for Seq2Seq also builds ``decoder_input_ids`` from the labels."""
    seq2seq_model = model if model.config.is_encoder_decoder else None
    return DataCollatorForSeq2Seq(tokenizer, model=seq2seq_model, label_pad_token_id=IGNORE_INDEX)


def truncated_share(split: Any, tokenizer: PreTrainedTokenizerBase, spec: FormatSpec, sample: int = 2000) -> float:
    """Share of (up to ``sample``) sources longer than ``max_source_tokens``: worth a warning if large."""
    texts = list(split.select(range(min(sample, len(split))))["source_text"])
    if not texts:
        return 0.0
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    return sum(n > spec.max_source_tokens for n in lengths) / len(lengths)
