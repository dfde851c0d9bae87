"""Reply selection: several candidates per request, scored, the best one sent (issue #16).

Chat systems do not send the first thing the decoder produces. Here each request gets
``candidates`` sampled replies from the serving model in one batched ``generate`` call
(``num_return_sequences``), and each candidate is scored::

    score = log p(reply | persona + history) - λ · log p(reply | history)  - penalty · similarity
            + μ · consensus

both log-likelihoods length-normalised (mean per token, the reply's end included). The second
term is the anti-generic, MMI-style part: a reply the model would say whatever the persona
(«Привет, как дела?») gains nothing from the persona; one that uses it does. ``consensus`` is the
minimum-Bayes-risk part: the candidate's mean chrF++ (0..1) against the other candidates drawn for
the same request, i.e. how well it would match a reply the model might give (Freitag et al., 2022,
"High quality rather than high model probability"); an odd sample scores low, one that says
what most samples say scores high. ``similarity`` is
the closest match (``difflib`` ratio, 0..1) to the bot's own earlier replies and the user's
message in this dialogue; a near-duplicate (ratio ≥ ``DUPLICATE_RATIO``) is never chosen while
another candidate is left. The ranked candidates are kept with the reply, so that 🔄 shows the
next one without a new generation.

The same code serves the bot (``Generator``) and the evaluation that chose N, λ and the penalty
(``python -m training.evaluation.selection``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from sacrebleu.metrics import CHRF

from bot.config import DecodingSettings, SelectionSettings
from bot.generation.turns import Turn, compose, model_inputs
from dialogue.format import clean_text, own_turns

DUPLICATE_RATIO = 0.8
"""A candidate this similar (difflib ratio) to an earlier bot reply or to the user's message is a near-duplicate."""


@dataclass(frozen=True)
class Candidate:
    """One possible reply and why it ranks where it does."""

    text: str
    score: float
    with_persona: float
    """Mean log-probability per token given persona and history."""
    without_persona: float
    """The same, given the history only."""
    similarity: float
    """Closest difflib ratio to an earlier bot reply or the user's message."""
    consensus: float = 0.0
    """Mean chrF++ (0..1) against the other candidates of the request."""
    source: str = "model"

    def as_dict(self) -> dict[str, object]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def similarity(text: str, others: Sequence[str]) -> float:
    """The highest ``difflib`` ratio between ``text`` and any of ``others`` (case and spacing ignored)."""
    normal = clean_text(text).lower()
    return max((difflib.SequenceMatcher(None, normal, clean_text(o).lower()).ratio() for o in others), default=0.0)


_CHRF = CHRF(word_order=2)  # chrF++, as the evaluation scores replies


def consensus(texts: Sequence[str]) -> list[float]:
    """Per text, its mean sentence chrF++ (0..1) against every other text (identical draws are support,
    not noise: what the model says often is what it means); 0 for an empty text or a single draw."""
    others = len(texts) - 1
    return [
        sum(_CHRF.sentence_score(text, [other]).score for j, other in enumerate(texts) if j != i) / (100 * others)
        if text.strip() and others else 0.0
        for i, text in enumerate(texts)
    ]


def rank(texts: Sequence[str], with_persona: Sequence[float], without_persona: Sequence[float],
         history: Sequence[str], settings: SelectionSettings) -> list[Candidate]:
    """The candidates of one request, best first; identical texts once; near-duplicates of what was said
    last (the bot's earlier replies, the user's message) after every other candidate."""
    said = [*own_turns(history), *history[-1:]]
    agreement = consensus(texts) if settings.consensus_weight else [0.0] * len(texts)  # only measured when weighed
    best: dict[str, Candidate] = {}
    for text, lp, lp_plain, agree in zip(texts, with_persona, without_persona, agreement, strict=True):
        if not text.strip():
            continue
        sim = similarity(text, said)
        score = (lp - settings.persona_weight * lp_plain - settings.repeat_penalty * sim
                 + settings.consensus_weight * agree)
        candidate = Candidate(text.strip(), score, lp, lp_plain, sim, agree)
        key = clean_text(text).lower()
        if key not in best or best[key].score < score:
            best[key] = candidate
    return sorted(best.values(), key=lambda c: (c.similarity >= DUPLICATE_RATIO, -c.score))


def candidate_decoding(decoding: DecodingSettings, n: int) -> DecodingSettings:
    """How ``n`` candidates are drawn: the settings' own beam if it is at least ``n`` wide, else sampling
    with the settings' temperature, top-p and top-k (greedy or contrastive give one reply only)."""
    if decoding.strategy == "sampling" or (decoding.strategy == "beam" and decoding.num_beams >= n):
        return decoding
    return replace(decoding, strategy="sampling")


@dataclass(frozen=True)
class Drawn:
    """The candidates of one request in the order they were drawn, with their log-likelihoods."""

    texts: list[str]
    with_persona: list[float]
    without_persona: list[float]

    def ranked(self, history: Sequence[str], settings: SelectionSettings, first: int | None = None) -> list[Candidate]:
        """``rank`` over the first ``first`` draws (all by default)."""
        n = len(self.texts) if first is None else first
        return rank(self.texts[:n], self.with_persona[:n], self.without_persona[:n], history, settings)


def draw_candidates(backend, turns: Sequence[Turn], decoding: DecodingSettings, n: int) -> list[Drawn]:
    """``n`` candidates per turn from one batched generate call, as the bot sends them (``turns.compose``),
    scored in one batched call with and without the persona. Runs on the generator's worker thread."""
    texts = compose(backend, turns, candidate_decoding(decoding, n), per_input=n)
    inputs = model_inputs(backend, turns)
    plain = model_inputs(backend, [replace(t, persona=()) for t in turns])
    repeated = [i for i in range(len(inputs)) for _ in range(n)]
    scores = backend.log_likelihoods([inputs[i] for i in repeated] + [plain[i] for i in repeated], texts + texts)
    return [Drawn(texts[i * n : (i + 1) * n], scores[i * n : (i + 1) * n], scores[len(texts) + i * n : len(texts) + (i + 1) * n])
            for i in range(len(inputs))]


def select_replies(backend, turns: Sequence[Turn], decoding: DecodingSettings,
                   settings: SelectionSettings) -> list[list[Candidate]]:
    """Ranked candidates for each turn, best first (what the ``Generator`` sends and keeps for 🔄)."""
    drawn = draw_candidates(backend, turns, decoding, settings.candidates)
    return [d.ranked(turn.history, settings) for d, turn in zip(drawn, turns)]
