"""The research hypotheses as data: which sources, which model input format, which augmentations.

Sample building (``build_samples``): every utterance after the first is a reply; its context is all
earlier utterances and its persona is the replying speaker's facts. Which speakers reply:

* ``both_sides=False`` (h1-h3): only speaker 1, the one who answers the opening message, as the bot
  does in a chat. In Toloka that is one worker's side with that worker's persona only (h3).
* ``both_sides=True`` (h4, h5): both speakers, each with their own persona, so every dialogue is
  used from both sides with the roles swapped. Splits are made by dialogue, so both roles of a
  dialogue always land in the same split.

Every sample also carries the other speaker's persona (``partner``): the model input shows it when the
experiment asks for it (``max_partner_facts``, h4's «both personas»), as the bot shows what it knows of the user.

A persona-less source (Koziev's corpora, the QA sets) gives an empty persona. English hypotheses read
PersonaChat; when it is absent locally, Synthetic-Persona-Chat stands in (``sources.SOURCES``).

The test split of every hypothesis of a language holds only the held-out dialogues of its first
source (the persona chat), built with ``both_sides=False``: h3, h4 and h5 are scored on the very
same samples.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from dialogue import FORMATS
from training.data.records import Dialogue, Sample
from training.data.sources import SOURCES


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of the research: the data and format an experiment trains on."""

    name: str
    """Key in ``HYPOTHESES``: ``h1``, ``h1_causal``, ``h1_1``, ``h1_2``, ``h2``, ``h2_1``, ``h3``, ``h4``, ``h5``,
    ``h4_causal``, ``h5_causal``."""
    language: str
    """``en`` or ``ru``."""
    sources: Mapping[str, float]
    """Source name -> mixture weight (target share of samples). The first is the persona chat: it is
    used whole and its held-out dialogues are the test split."""
    format_name: str
    """A ``dialogue.FORMATS`` key: ``concat`` (h1 Seq2Seq), ``concat_causal`` (h1 CausalLM, h1.1, h1.2), ``godel``,
    ``chat_causal`` (h5 on a pretrained CausalLM)."""
    shuffle_persona: bool
    """Shuffle the persona facts of each training sample (h1.1, h1.2, h2.1, h3-h5)."""
    shuffle_history: bool
    """Shuffle the dialogue history of each training sample too (h1.2)."""
    both_sides: bool
    """Train on the replies of both speakers with roles swapped (h4, h5), not only speaker 1's."""
    description: str
    """One line for summaries and reports."""

    def __post_init__(self) -> None:
        if self.language not in ("en", "ru"):
            raise ValueError(f"{self.name}: language must be 'en' or 'ru', got {self.language!r}")
        if not self.sources or any(w <= 0 for w in self.sources.values()):
            raise ValueError(f"{self.name}: sources need positive weights, got {dict(self.sources)}")
        unknown = set(self.sources) - set(SOURCES)
        if unknown:
            raise ValueError(f"{self.name}: unknown sources {sorted(unknown)}")
        if self.format_name not in FORMATS:
            raise ValueError(f"{self.name}: unknown format {self.format_name!r}; known: {sorted(FORMATS)}")
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    @property
    def main_source(self) -> str:
        """The persona chat: used whole, and the only source of the test split."""
        return next(iter(self.sources))

    @property
    def replying_speakers(self) -> frozenset[int]:
        return frozenset({0, 1}) if self.both_sides else frozenset({1})


def build_samples(hypothesis: Hypothesis, dialogues: Iterable[Dialogue]) -> Iterator[Sample]:
    """Every reply of the hypothesis' replying speakers, with all earlier utterances as its context."""
    speakers = hypothesis.replying_speakers
    for dialogue in dialogues:
        for position in range(1, len(dialogue.utterances)):
            speaker = position % 2
            # A persona chat side without a persona (one-sided PersonaChat entries) teaches nothing persona-bound.
            if speaker not in speakers or (dialogue.personas and speaker not in dialogue.personas):
                continue
            yield Sample(
                persona=tuple(dialogue.personas.get(speaker, ())),
                context=dialogue.utterances[:position],
                reply=dialogue.utterances[position],
                source=dialogue.source,
                dialogue_id=dialogue.dialogue_id,
                partner=tuple(dialogue.personas.get(1 - speaker, ())),
            )


def mix_samples(hypothesis: Hypothesis, samples: Mapping[str, Sequence[Sample]], *, seed: int) -> list[Sample]:
    """Mix per-source samples in the hypothesis' proportions, reproducibly for a ``seed``.

    The main source is used whole; every other source gets ``weight / main weight`` times as many
    samples, drawn without replacement (a source smaller than its share is used whole: no copies).
    Without the main source the largest-weighted present source is the anchor. The result is shuffled.
    """
    present = [name for name in hypothesis.sources if samples.get(name)]
    if not present:
        return []
    anchor = hypothesis.main_source if hypothesis.main_source in present else max(present, key=hypothesis.sources.get)
    total = len(samples[anchor]) / hypothesis.sources[anchor]
    rng = random.Random(seed)
    mixed: list[Sample] = []
    for name in present:
        pool = samples[name]
        wanted = min(len(pool), round(hypothesis.sources[name] * total))
        mixed.extend(pool if wanted == len(pool) else rng.sample(list(pool), wanted))
    rng.shuffle(mixed)
    return mixed


def _hypothesis(name: str, language: str, sources: dict[str, float], format_name: str, description: str,
                *, shuffle_persona: bool = False, shuffle_history: bool = False, both_sides: bool = False) -> Hypothesis:
    return Hypothesis(name, language, sources, format_name, shuffle_persona, shuffle_history, both_sides, description)


_EN = {"personachat": 1.0}
_RU = {"ru_persona_chat": 1.0}
# h5: half persona chat, the rest chit-chat corpora and a little QA (small sets are capped at their size).
RU_MIX = {"ru_persona_chat": 0.5, "cornell": 0.15, "anekdots": 0.15, "flibusta": 0.1,
          "rubq": 0.04, "danetqa": 0.03, "parus": 0.03}

HYPOTHESES: dict[str, Hypothesis] = {
    h.name: h
    for h in (
        _hypothesis("h1", "en", _EN, "concat", "persona + history -> reply, Seq2Seq"),
        _hypothesis("h1_causal", "en", _EN, "concat_causal", "persona + history -> reply, CausalLM"),
        _hypothesis("h1_1", "en", _EN, "concat_causal", "h1 CausalLM, persona facts shuffled", shuffle_persona=True),
        _hypothesis("h1_2", "en", _EN, "concat_causal", "h1 CausalLM, persona and history shuffled",
                    shuffle_persona=True, shuffle_history=True),
        _hypothesis("h2", "en", _EN, "godel", "GODEL format, Seq2Seq"),
        _hypothesis("h2_1", "en", _EN, "godel", "GODEL format, persona facts shuffled", shuffle_persona=True),
        _hypothesis("h3", "ru", _RU, "godel", "Toloka persona chat, one side (speaker 1), as h2.1",
                    shuffle_persona=True),
        _hypothesis("h3_causal", "ru", _RU, "chat_causal", "h3's data for a CausalLM: a plain-text chat prompt",
                    shuffle_persona=True),
        _hypothesis("h4", "ru", _RU, "godel", "as h3, both speakers' personas, dialogues from both sides",
                    shuffle_persona=True, both_sides=True),
        _hypothesis("h4_causal", "ru", _RU, "chat_causal", "h4's data for a CausalLM: a plain-text chat prompt",
                    shuffle_persona=True, both_sides=True),
        _hypothesis("h5", "ru", RU_MIX, "godel", "as h4 on a weighted mix of seven Russian sources",
                    shuffle_persona=True, both_sides=True),
        _hypothesis("h5_causal", "ru", RU_MIX, "chat_causal", "h5's data for a CausalLM: a plain-text chat prompt",
                    shuffle_persona=True, both_sides=True),
    )
}
