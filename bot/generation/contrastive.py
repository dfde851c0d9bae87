"""Contrastive search (Su et al., 2022) as a ``custom_generate`` decoding loop.

transformers 5 moved contrastive search out of the core library into a hub repository
(``transformers-community/contrastive-search``, loaded with ``trust_remote_code``), which
an offline bot cannot download. ``model.generate(..., custom_generate=contrastive_search)``
keeps ``generate``'s input preparation, logits processors (repetition penalty, n-gram
blocking) and stopping criteria, and runs this loop instead.

At each step the ``contrastive_top_k`` most probable tokens are scored by
``(1 - alpha) * probability - alpha * max cosine similarity`` of the candidate's hidden
state to the hidden states of the text so far. It recomputes the whole decoder prefix
each step (no KV cache): simple and exact, fine for short chat replies with a small contrastive_top_k.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers.modeling_outputs import BaseModelOutput


def contrastive_search(
    model: Any,
    input_ids: torch.LongTensor,
    logits_processor: Any,
    stopping_criteria: Any,
    generation_config: Any,
    *,
    penalty_alpha: float,
    contrastive_top_k: int,
    **model_kwargs: Any,
) -> torch.LongTensor:
    # generate() passes on its keyword arguments named here that its own decoding loops lack.
    alpha, top_k = penalty_alpha, contrastive_top_k
    if not 0.0 <= alpha <= 1.0 or top_k < 1:
        raise ValueError(f"contrastive search needs 0 <= penalty_alpha <= 1 and contrastive_top_k >= 1, got {alpha}, {top_k}")
    pad_id = generation_config._pad_token_tensor
    batch = input_ids.shape[0]
    encoder_states = model_kwargs["encoder_outputs"].last_hidden_state if model.config.is_encoder_decoder else None
    prompt_mask = model_kwargs.get("attention_mask")  # generate() may leave out an all-ones mask
    if prompt_mask is None:
        prompt_mask = torch.ones_like(input_ids if encoder_states is None else encoder_states[..., 0], dtype=torch.long)

    def forward(seqs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Next-token logits, last-layer hidden states and the attention mask of ``seqs``."""
        if encoder_states is not None:
            out = model(
                encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states[rows]),
                attention_mask=prompt_mask[rows],
                decoder_input_ids=seqs,
                use_cache=False,
                output_hidden_states=True,
            )
            return out.logits[:, -1], out.decoder_hidden_states[-1], torch.ones_like(seqs)
        generated = seqs.shape[1] - prompt_mask.shape[1]
        mask = torch.cat([prompt_mask[rows], prompt_mask.new_ones(len(rows), generated)], dim=1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
        out = model(
            input_ids=seqs, attention_mask=mask, position_ids=positions, use_cache=False, output_hidden_states=True
        )
        return out.logits[:, -1], out.hidden_states[-1], mask

    rows = torch.arange(batch, device=input_ids.device)
    logits, _, _ = forward(input_ids, rows)
    unfinished = torch.ones(batch, dtype=torch.bool, device=input_ids.device)
    while True:
        probs = F.softmax(logits_processor(input_ids, logits.float()), dim=-1)
        top_probs, top_ids = probs.topk(top_k, dim=-1)  # (batch, k)
        candidates = torch.cat([input_ids.repeat_interleave(top_k, 0), top_ids.reshape(-1, 1)], dim=1)
        cand_logits, hidden, mask = forward(candidates, rows.repeat_interleave(top_k))
        hidden = F.normalize(hidden.float(), dim=-1)
        similarity = (hidden[:, :-1] @ hidden[:, -1:].transpose(1, 2)).squeeze(-1)
        similarity = similarity.masked_fill(mask[:, :-1] == 0, -1.0)  # padding is not context
        penalty = similarity.max(dim=-1).values.view(batch, top_k)
        best = ((1 - alpha) * top_probs - alpha * penalty).argmax(dim=-1)
        next_tokens = torch.where(unfinished, top_ids[rows, best], pad_id)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=1)
        logits = cand_logits.view(batch, top_k, -1)[rows, best]
        unfinished &= ~stopping_criteria(input_ids, None)
        if not unfinished.any():
            return input_ids
