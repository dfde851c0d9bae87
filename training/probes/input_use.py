"""Training-time pressure on a Seq2Seq decoder to read its input.

A small Seq2Seq model trained from scratch on chit-chat learns to ignore its encoder: the decoder
alone predicts the next word of a generic reply nearly as well (the context gain of
``training.evaluation.evaluate`` is below 0.1 nats per token). Two options of ``ExperimentConfig`` push back;
both change training steps only (evaluation and generation see the real model and inputs):

* ``decoder_input_dropout`` (Bowman et al., 2016, "Generating sentences from a continuous space"):
  a share of the previous reply tokens is hidden behind ``<unk>``, so the decoder's own context is
  less reliable and reading the persona and the dialogue should pay off.
* ``context_margin`` (a ranking loss with in-batch negatives, as in retrieval training): each reply
  must be at least ``margin`` nats per token more likely given its own input than given the next
  row's input of the batch; the hinge is added to the cross-entropy with ``context_margin_weight``.
  It trains the very quantity the context gain measures.

Measured in docs/model_recipe.md: dropout did not raise the context gain of
the CPU recipe; the margin raised it in 2,000-step fine-tunes (0.038 -> 0.086-0.097) but the replies
scored lower, so the shipped recipe uses neither. All of that was with the fixed-step Adafactor; the
cause turned out to be the optimizer (``adafactor_scaled`` raised the context gain to 0.22),
and neither option has been measured with it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import Seq2SeqTrainer
from transformers.modeling_outputs import BaseModelOutput

from training.data.features import IGNORE_INDEX


def drop_decoder_inputs(decoder_input_ids: torch.Tensor, rate: float, replacement_id: int,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``decoder_input_ids`` with each token but the start token replaced by ``replacement_id`` with ``rate``."""
    dropped = torch.rand(decoder_input_ids.shape, generator=generator, device=decoder_input_ids.device) < rate
    dropped[:, 0] = False  # the decoder start token tells the decoder where the reply begins
    return decoder_input_ids.masked_fill(dropped, replacement_id)


def reply_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per reply token, one value per row (``IGNORE_INDEX`` labels skipped)."""
    mask = labels != IGNORE_INDEX
    nll = F.cross_entropy(logits.float().transpose(1, 2), labels.masked_fill(~mask, 0), reduction="none")
    return (nll * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def context_margin_loss(own_nll: torch.Tensor, other_nll: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean hinge: zero for a row whose reply is ``margin`` nats/token less likely with the other input."""
    return F.relu(margin - (other_nll - own_nll)).mean()


class InputUseTrainer(Seq2SeqTrainer):
    """A ``Seq2SeqTrainer`` whose training steps apply decoder input dropout and the context margin."""

    def __init__(self, *args: Any, decoder_input_dropout: float = 0.0, replacement_id: int = 0,
                 context_margin: float = 0.0, context_margin_weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoder_input_dropout = decoder_input_dropout
        self.replacement_id = replacement_id
        self.context_margin = context_margin
        self.context_margin_weight = context_margin_weight

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001 (Trainer's)
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        labels = inputs["labels"]
        if "decoder_input_ids" not in inputs:
            inputs = {**inputs, "decoder_input_ids": model.prepare_decoder_input_ids_from_labels(labels=labels)}
        if self.decoder_input_dropout > 0:
            ids = drop_decoder_inputs(inputs["decoder_input_ids"], self.decoder_input_dropout, self.replacement_id)
            inputs = {**inputs, "decoder_input_ids": ids}
        loss, outputs = super().compute_loss(model, dict(inputs), return_outputs=True,
                                             num_items_in_batch=num_items_in_batch)
        if self.context_margin > 0:
            # The next row's input, through the encoder pass already made: one more decoder pass only.
            states, mask = outputs.encoder_last_hidden_state, inputs["attention_mask"]
            other = model(encoder_outputs=BaseModelOutput(last_hidden_state=states.roll(1, dims=0)),
                          attention_mask=mask.roll(1, dims=0), decoder_input_ids=inputs["decoder_input_ids"])
            hinge = context_margin_loss(reply_nll(outputs.logits, labels), reply_nll(other.logits, labels),
                                        self.context_margin)
            if num_items_in_batch is not None and self.model_accepts_loss_kwargs:
                # The cross-entropy is already divided over all accumulated tokens; the hinge is per batch.
                hinge = hinge / self.current_gradient_accumulation_steps
            loss = loss + self.context_margin_weight * hinge
        return (loss, outputs) if return_outputs else loss
