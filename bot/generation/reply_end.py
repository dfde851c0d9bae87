"""Where a greedy reply ends: only where its end is likely, not merely the most likely next token.

Plain greedy decoding stops wherever the end (EOS, or a line break for a CausalLM) is the single most likely
next token. After a short answer («Я работаю инженером») it often is, with 0.3 of the probability while the
other 0.7 goes on saying more, spread over many ways to say it; so greedy replies are shorter than the
replies people write (a model trained on the persona chat: 5.1 words where the references have 9.0). ``min_end_probability``
makes the stop decision by the end's own probability: the reply ends only where its end is at least that
likely (0.5: at least as likely as going on; the bot's default is 0.6); elsewhere the next most likely
token is taken. The model still stops at once where it is sure («Привет! Как дела?»), unlike a minimum length
(docs/model_recipe.md).

Both backends apply it to greedy decoding only (sampling draws the end by its own probability already):
transformers with ``EndOnlyWhenLikely``; CTranslate2, which has no logits processors, by generating again with
the end forbidden up to where it was too unlikely (``ctranslate2_backend``): greedy's earlier steps did not
pick the end, so forbidding it there changes nothing, and the results agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import LogitsProcessor


def end_probabilities(scores: torch.Tensor, end_ids: torch.Tensor) -> torch.Tensor:
    """Per row of ``scores`` (batch x vocabulary, processed as greedy picks from them), the probability that the
    next token is one of ``end_ids``."""
    return torch.softmax(scores.float(), dim=-1)[:, end_ids.to(scores.device)].sum(-1)


class EndOnlyWhenLikely(LogitsProcessor):
    """The end tokens are forbidden at a step where together they are less than ``probability`` likely.

    Added after every other processor, so the probability is the one greedy picks from (repetition penalty and
    n-gram bans applied, as CTranslate2's returned logits have them)."""

    def __init__(self, end_ids: Sequence[int], probability: float) -> None:
        self.end_ids = torch.tensor(sorted(set(end_ids)), dtype=torch.long)
        self.probability = probability

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        unlikely = end_probabilities(scores, self.end_ids) < self.probability
        forbidden = torch.zeros_like(scores, dtype=torch.bool)
        forbidden[:, self.end_ids.to(scores.device)] = unlikely.unsqueeze(1)
        return scores.masked_fill(forbidden, -float("inf"))
