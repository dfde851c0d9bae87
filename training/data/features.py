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

from dialogue.format import FormatSpec

IGNORE_INDEX = -100


def encoder(tokenizer: PreTrainedTokenizerBase, spec: FormatSpec) -> Callable[[dict[str, list]], dict[str, list]]:
    """A batched ``Dataset.map`` function for ``spec``'s kind of model."""

    def seq2seq(batch: dict[str, list]) -> dict[str, list]:
        features = tokenizer(batch["source_text"], max_length=spec.max_source_tokens, truncation=True)
        # The reply and EOS, nothing else: T5's tokenizer appends EOS itself, Gemma's would prepend BOS instead
        # (the decoder's start token is prepended by the collator).
        targets = tokenizer(text_target=batch["target_text"], add_special_tokens=False)["input_ids"]
        features["labels"] = [ids[: spec.max_target_tokens - 1] + [tokenizer.eos_token_id] for ids in targets]
        return dict(features)

    def causal(batch: dict[str, list]) -> dict[str, list]:
        # The prompt as the bot encodes it (with BOS where the tokenizer adds one: Gemma needs it).
        prompts = tokenizer(batch["source_text"])["input_ids"]
        replies = tokenizer([spec.reply_prefix + t for t in batch["target_text"]], add_special_tokens=False)["input_ids"]
        bos = tokenizer.bos_token_id
        out: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": []}
        for prompt, reply in zip(prompts, replies):
            if len(prompt) > spec.max_source_tokens:
                keep_bos = bos is not None and prompt[0] == bos
                prompt = ([bos] if keep_bos else []) + prompt[len(prompt) - spec.max_source_tokens + keep_bos :]
            reply = reply[: spec.max_target_tokens - 1] + [tokenizer.eos_token_id]
            out["input_ids"].append(prompt + reply)
            out["attention_mask"].append([1] * (len(prompt) + len(reply)))
            out["labels"].append([IGNORE_INDEX] * len(prompt) + reply)
        return out

    return causal if spec.is_causal else seq2seq


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
