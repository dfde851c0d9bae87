"""Persona facts + dialogue history -> model input text.

This module is the one place where the model input format lives: training builds
its samples with it and the bot builds its prompts with it, so a model is always
served exactly as it was trained. It imports nothing heavy; token-length limits are
applied through a ``Truncator`` (any callable ``(text, max_tokens) -> text``), which
the caller builds from its tokenizer (see ``tokenizer_truncator``).

Formats (the hypotheses of the research):

* ``godel`` (h2, h2.1, h3-h5), GODEL's grounded format, Seq2Seq::

      [CONTEXT] u1 EOS u2 EOS ... u(n-1) [KNOWLEDGE] fact1 fact2 ...

* ``concat`` (h1 Seq2Seq): persona facts, then the history; the target is the reply::

      [PERSONA] fact1 fact2 ... [DIALOGUE] u1 EOS u2 EOS ... u(n-1)

* ``concat_causal`` (h1 CausalLM, h1.1, h1.2): the same prompt ending with the
  separator, so the reply continues it; training appends the reply and EOS.

* ``chat_causal`` (h5 CausalLM on a pretrained base): plain Russian text that a pretrained
  language model already reads as a chat, one turn a line, the reply after the last ``Я:``;
  training appends the reply and EOS::

      Обо мне: fact1 fact2 ...
      О собеседнике: partner1 partner2 ...   (a model trained with the partner's facts, when known)
      Собеседник: u1
      Я: u2
      ...
      Собеседник: u(n-1)
      Я:
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

FORMAT_FILE = "dialogue_format.json"
SEPARATOR = " EOS "
MARKERS = ("[CONTEXT]", "[KNOWLEDGE]", "[PERSONA]", "[DIALOGUE]", SEPARATOR.strip())
"""The formats' own words: a tokenizer keeps each whole, and they are never part of a persona or an utterance."""

Truncator = Callable[[str, int], str]


def whitespace_truncator(text: str, max_tokens: int) -> str:
    """Fallback truncation by whitespace-separated words (no tokenizer at hand)."""
    words = text.split()
    return text.strip() if len(words) <= max_tokens else " ".join(words[:max_tokens])


def tokenizer_truncator(tokenizer: Any) -> Truncator:
    """Truncate by the model's own tokens (a transformers or ``tokenizers`` tokenizer)."""

    def truncate(text: str, max_tokens: int) -> str:
        ids = _encode(tokenizer, text)
        if len(ids) <= max_tokens:
            return text.strip()
        return tokenizer.decode(ids[:max_tokens], skip_special_tokens=True).strip()

    return truncate


def _encode(tokenizer: Any, text: str) -> list[int]:
    try:  # transformers tokenizers
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    except TypeError:  # a bare `tokenizers.Tokenizer`
        return list(tokenizer.encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True)
class FormatSpec:
    """How a model expects its input. Saved beside the weights as ``dialogue_format.json``."""

    name: str = "godel"
    """One of ``FORMATS``: ``godel``, ``concat`` (Seq2Seq), ``concat_causal`` or ``chat_causal``."""
    max_fact_tokens: int | None = None
    """Each persona fact is cut to this many tokens (the 0.95 quantile in training data)."""
    max_utterance_tokens: int | None = None
    """Each utterance of the history (and the target reply) is cut to this many tokens."""
    max_history_turns: int | None = 6
    """Only the last N utterances of the history go into the input."""
    max_persona_facts: int | None = 10
    """At most this many persona facts go into the input."""
    max_partner_facts: int = 0
    """At most this many of the partner's facts (what the bot knows of the user, newest kept) go into the
    input; 0 for a model that never saw them (they are left out)."""
    max_source_tokens: int = 256
    """Hard cap of the encoded input (the tokenizer truncates beyond it)."""
    max_target_tokens: int = 64
    """Hard cap of the reply in training; the default ``max_new_tokens`` at serving."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form provenance (experiment name, how the limits were measured)."""

    def __post_init__(self) -> None:
        if self.name not in FORMATS:
            raise ValueError(f"unknown dialogue format {self.name!r}; known: {sorted(FORMATS)}")
        if self.max_partner_facts < 0:
            raise ValueError(f"max_partner_facts must be >= 0, got {self.max_partner_facts!r}")
        for key in ("max_fact_tokens", "max_utterance_tokens", "max_history_turns", "max_persona_facts"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"{key} must be a positive integer or None, got {value!r}")
        if self.max_source_tokens < 8 or self.max_target_tokens < 1:
            raise ValueError("max_source_tokens must be >= 8 and max_target_tokens >= 1")

    @property
    def is_causal(self) -> bool:
        return FORMATS[self.name].causal

    @property
    def reply_prefix(self) -> str:
        """What a CausalLM reply starts with after the prompt (a space for ``chat_causal``)."""
        return FORMATS[self.name].reply_prefix

    def with_limits(self, **limits: Any) -> FormatSpec:
        return replace(self, **limits)

    # --- persistence beside the model weights ---------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / FORMAT_FILE
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> FormatSpec:
        path = Path(model_dir) / FORMAT_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} is missing: a model directory must carry its dialogue format") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        return cls(**data)

    # --- building model input ---------------------------------------------------------
    def build_input(
        self,
        persona: Sequence[str],
        history: Sequence[str],
        *,
        truncate: Truncator = whitespace_truncator,
        shuffle_persona: bool = False,
        shuffle_history: bool = False,
        rng: random.Random | None = None,
        partner: Sequence[str] = (),
        opening: str = "",
    ) -> str:
        """The model input for the reply that follows ``history`` (oldest first).

        ``shuffle_persona`` / ``shuffle_history`` are the training-time augmentations of
        h1.1 / h2.1 and h1.2; pass a seeded ``rng`` for reproducibility. ``partner``: the other speaker's
        facts, used by a format and model that have them (``max_partner_facts``). ``opening``: the words the
        reply must start with (``dialogue.grounding``), put after the prompt of a causal format; the model
        goes on from them.
        """
        facts = [f for f in (clean_text(x) for x in persona) if f]
        if self.max_persona_facts is not None:
            facts = facts[: self.max_persona_facts]
        turns = [clean_text(u) for u in history]
        if self.max_history_turns is not None:
            turns = turns[-self.max_history_turns :]
        if shuffle_persona or shuffle_history:
            rng = rng or random.Random()
            if shuffle_persona:
                rng.shuffle(facts)
            if shuffle_history:
                rng.shuffle(turns)
        if self.max_fact_tokens is not None:
            facts = [truncate(f, self.max_fact_tokens) for f in facts]
        if self.max_utterance_tokens is not None:
            turns = [truncate(u, self.max_utterance_tokens) for u in turns]
        known = [f for f in (clean_text(x) for x in partner) if f][-self.max_partner_facts :] if self.max_partner_facts else []
        if self.max_fact_tokens is not None:
            known = [truncate(f, self.max_fact_tokens) for f in known]
        text = FORMATS[self.name].render(facts, turns, known)
        opening = clean_text(opening)
        if opening and self.is_causal:
            text += self.reply_prefix + opening
        return text

    def build_target(self, reply: str, *, truncate: Truncator = whitespace_truncator) -> str:
        reply = clean_text(reply)
        if self.max_utterance_tokens is not None:
            reply = truncate(reply, self.max_utterance_tokens)
        return reply


def own_turns(history: Sequence[str]) -> list[str]:
    """The replying side's earlier turns in ``history`` (oldest first; the last turn is the other side's)."""
    return list(history[-2::-2])[::-1]


def words_only(text: str) -> str:
    """The words of ``text``, lower-cased, single-spaced: two replies are the same reply when these are equal."""
    return " ".join(re.findall(r"\w+", text.lower()))


def clean_text(text: str) -> str:
    """One line, single spaces: utterances must not smuggle in format markers' layout."""
    return " ".join(text.split())


@dataclass(frozen=True)
class _Format:
    render: Callable[[list[str], list[str], list[str]], str]
    """(persona facts, turns, partner facts) -> input; only ``chat_causal`` has a place for the partner's."""
    causal: bool = False
    reply_prefix: str = ""
    """Put before the reply when it is encoded after the prompt (``Я:`` is followed by a space in text)."""
    uses_markers: bool = True
    """The input contains ``MARKERS`` (a pretrained tokenizer gets them added as whole tokens)."""


def _godel(facts: list[str], turns: list[str], partner: list[str]) -> str:
    return f"[CONTEXT] {SEPARATOR.join(turns)} [KNOWLEDGE] {' '.join(facts)}".replace("  ", " ").strip()


def _concat(facts: list[str], turns: list[str], partner: list[str] = ()) -> str:
    return f"[PERSONA] {' '.join(facts)} [DIALOGUE] {SEPARATOR.join(turns)}".replace("  ", " ").strip()


def _concat_causal(facts: list[str], turns: list[str], partner: list[str]) -> str:
    # The reply follows a separator, exactly as every earlier turn did.
    return _concat(facts, turns) + SEPARATOR.rstrip() + " "


CHAT_PERSONA, CHAT_PARTNER, CHAT_OTHER, CHAT_SELF = "Обо мне:", "О собеседнике:", "Собеседник:", "Я:"


def _chat_causal(facts: list[str], turns: list[str], partner: list[str]) -> str:
    # The last turn of the history is the other speaker's; the speakers alternate backwards from it.
    lines = [f"{CHAT_PERSONA} {' '.join(facts)}"] if facts else []
    lines += [f"{CHAT_PARTNER} {' '.join(partner)}"] if partner else []
    lines += [f"{CHAT_OTHER if (len(turns) - i) % 2 else CHAT_SELF} {turn}" for i, turn in enumerate(turns)]
    return "\n".join(lines + [CHAT_SELF])


FORMATS: dict[str, _Format] = {
    "godel": _Format(_godel),
    "concat": _Format(_concat),
    "concat_causal": _Format(_concat_causal, causal=True),
    "chat_causal": _Format(_chat_causal, causal=True, reply_prefix=" ", uses_markers=False),
}
