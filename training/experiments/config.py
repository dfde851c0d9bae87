"""The frozen configuration of one training experiment.

Every field is documented and validated in ``__post_init__``, so a bad ``--set`` (see
``training/experiments/overrides.py``) fails at start-up with a message naming the key, not an hour
into training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

SCRATCH = "scratch"
OPTIMIZERS = {"adamw": "adamw_torch", "adafactor": "adafactor", "adafactor_scaled": "adafactor"}
"""Our names -> the Trainer's ``optim``. ``adafactor_scaled`` is built by ``training.train`` itself (the
Trainer's Adafactor always has ``scale_parameter=False``)."""
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "inverse_sqrt")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
OBJECTIVES = ("reply", "denoise")


class ConfigError(ValueError):
    """An experiment config or an override is invalid; the message names the key."""


@dataclass(frozen=True)
class ScratchModelConfig:
    """Sizes of the model built from nothing when ``base_model == "scratch"`` (no hub access)."""

    d_model: int = 256
    """Hidden size."""
    num_layers: int = 4
    """Encoder and decoder layers each (T5), or transformer blocks (GPT-2)."""
    num_heads: int = 4
    """Attention heads; must divide ``d_model``."""
    d_ff: int = 1024
    """Feed-forward inner size."""
    vocab_size: int = 8000
    """Size of the tokenizer trained on the experiment's train split."""

    def __post_init__(self) -> None:
        for key in ("d_model", "num_layers", "num_heads", "d_ff"):
            if getattr(self, key) < 1:
                raise ConfigError(f"scratch.{key} must be >= 1, got {getattr(self, key)}")
        if self.d_model % self.num_heads:
            raise ConfigError(f"scratch.num_heads ({self.num_heads}) must divide scratch.d_model ({self.d_model})")
        if self.vocab_size < 100:
            raise ConfigError(f"scratch.vocab_size must be >= 100, got {self.vocab_size}")


@dataclass(frozen=True)
class ExperimentConfig:
    """One reproducible experiment: which data, which format, which base model, how to train."""

    name: str
    """Registry key, also the default output directory name."""
    hypothesis: str
    """Key in ``training.data.hypotheses.HYPOTHESES``: data sources, format and augmentations."""
    description: str
    """One line for ``--list`` and the model card."""
    base_model: str = SCRATCH
    """Hub id or local directory of a pretrained model, or ``"scratch"`` (tokenizer + model built here)."""
    pretrain: str | None = None
    """A registered experiment trained first (into ``<output dir>/pretrain``; reused when its model is there)
    whose model becomes ``base_model``: a multi-stage recipe in one command. ``--base-model`` skips it."""
    scratch: ScratchModelConfig = field(default_factory=ScratchModelConfig)
    """Model sizes, used only when ``base_model == "scratch"``."""
    max_source_tokens: int = 256
    """Hard cap of the encoded model input."""
    max_target_tokens: int = 64
    """Hard cap of the encoded reply."""
    max_history_turns: int = 6
    """Only the last N utterances of the history go into the input."""
    max_partner_facts: int = 0
    """h4's «both personas»: up to this many of the other speaker's facts go into the input («О собеседнике: …»,
    ``chat_causal`` only), as the bot puts what it knows of the user there; 0 leaves them out."""
    max_dialogues_per_source: int | None = None
    """Cap per data source (quick runs); ``None`` reads everything."""
    drop_invented_names: bool = False
    """Leave out of the train split the replies in which the speaker gives a name their persona does not have
    (the persona chat's workers introduce themselves; a bot taught so invents a name: ``training/data/names.py``).
    Validation and test keep every row."""
    drop_ignoring_replies: bool = False
    """Leave out of the train split the replies to a statement that ignore it (neither take up what it said, ask
    about it nor react to it: ``training/data/responses.py``), so that the model learns to respond to what the user
    tells. Validation and test keep every row."""
    learning_rate: float = 5e-4
    """Peak learning rate."""
    optimizer: str = "adamw"
    """``adamw``, ``adafactor`` (a fixed step size for every parameter) or ``adafactor_scaled`` (T5's own
    setting: each step is relative to the parameter's RMS, so T5's unit-scale embeddings and its tiny
    query weights learn at the same relative pace; a model trained from nothing learns to copy only with
    it, docs/model_recipe.md)."""
    scheduler: str = "linear"
    """Learning-rate schedule after warm-up (a transformers ``SchedulerType``)."""
    warmup: float = 0.05
    """Linear warm-up: a share of all updates if < 1 (so short runs warm up too), else a number of updates."""
    weight_decay: float = 0.01
    """Decoupled weight decay."""
    batch_size: int = 16
    """Examples per device per step."""
    grad_accumulation: int = 1
    """Steps whose gradients are summed before an optimizer update."""
    max_steps: int = -1
    """Optimizer updates; ``-1`` trains for ``epochs`` instead."""
    epochs: float = 3.0
    """Passes over the train split when ``max_steps == -1``."""
    stop_at_step: int | None = None
    """End training after this many updates, the learning-rate schedule still that of ``max_steps`` (arms
    compared at one point of one schedule); ``None``: train to the schedule's end."""
    eval_steps: int = 500
    """Evaluate (validation loss) every N updates; also the save interval."""
    eval_samples: int | None = 2000
    """Validation examples behind the eval loss during training (a fixed random subset); ``None``: all."""
    logging_steps: int = 10
    """Log the train loss every N updates (the loss curve)."""
    save_total_limit: int = 2
    """Checkpoints kept in the output directory."""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy loss."""
    dropout: float | None = None
    """Dropout of the model, set on every dropout of its config (``None``: the base model's own; 0.1 for
    ``scratch``). Also applies when resuming. A short run on a small budget is far from overfitting: 0
    learns as fast per example and steps ~30% faster on a CPU (docs/model_recipe.md)."""
    decoder_input_dropout: float = 0.0
    """Seq2Seq only: share of the decoder's input tokens replaced by ``<unk>`` (pad if the tokenizer has
    none) in training steps, so that the decoder must lean on the encoder (``training/probes/input_use.py``)."""
    context_margin: float = 0.0
    """Seq2Seq only, 0 = off: train each reply to be at least this many nats per token more likely given its
    own input than given another row's of the batch (a hinge loss added to the cross-entropy,
    ``training/probes/input_use.py``); the context gain of ``training.evaluation.evaluate`` measures the same quantity."""
    context_margin_weight: float = 1.0
    """Weight of the ``context_margin`` hinge against the cross-entropy."""
    objective: str = "reply"
    """``reply`` (the dialogue task: input -> the reply) or ``denoise`` (Seq2Seq only: the same inputs with
    ``denoise_rate`` of their words hidden -> the last utterance of the history; a pre-stage meant to make a
    model trained from nothing read its input, ``training/data/denoise.py``; with the fixed-step Adafactor it
    learnt no copying, docs/model_recipe.md)."""
    denoise_rate: float = 0.3
    """Share of the input's words hidden by the ``denoise`` objective."""
    lora_rank: int = 0
    """LoRA (``peft``) adapters of this rank on every projection of a pretrained base, the base frozen; 0:
    full fine-tuning. Only the adapters are saved, beside ``base_model.json`` naming the base."""
    lora_alpha: float = 32.0
    """LoRA scaling numerator (the update is scaled by ``lora_alpha / lora_rank``)."""
    group_by_length: bool = False
    """Batch rows of similar length together (the Trainer's length-grouped sampler): less padding per step."""
    seed: int = 42
    """Seed of shuffles, model init and training."""
    data_seed: int = 42
    """Seed of the train / validation / test split: kept when ``seed`` changes, so that runs of several seeds share
    their test dialogues and none of them trains on another's."""
    held_out_profiles: float = 0.0
    """Above 0: the split is profile-disjoint (``SplitPlan.held_out_profiles``): this share of the persona chat's
    profiles never plays in training, and the test dialogues are those between two of them (h4's leakage)."""
    precision: str = "auto"
    """``auto`` (bf16/fp16 on a capable GPU, else fp32), ``fp32``, ``fp16`` or ``bf16``."""

    def data_options(self) -> dict[str, object]:
        """How this experiment's data set is built and split (``training.data.dataset.prepare_dataset``'s options)."""
        return {"seed": self.data_seed, "max_dialogues_per_source": self.max_dialogues_per_source,
                "held_out_profiles": self.held_out_profiles}

    def __post_init__(self) -> None:
        if not self.name or not self.hypothesis:
            raise ConfigError("name and hypothesis must be non-empty")
        if not self.base_model:
            raise ConfigError('base_model must be a hub id, a local directory or "scratch"')
        if self.pretrain == self.name:
            raise ConfigError(f"pretrain names a stage before this one, not the experiment itself ({self.name!r})")
        positive = ("max_target_tokens", "max_history_turns", "batch_size", "grad_accumulation",
                    "eval_steps", "logging_steps", "save_total_limit")
        for key in positive:
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.max_partner_facts < 0:
            raise ConfigError(f"max_partner_facts must be >= 0, got {self.max_partner_facts}")
        if self.max_source_tokens < 8:
            raise ConfigError(f"max_source_tokens must be >= 8, got {self.max_source_tokens}")
        for key in ("max_dialogues_per_source", "eval_samples"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1 or None, got {getattr(self, key)}")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.warmup < 0 or self.weight_decay < 0 or not 0 <= self.label_smoothing < 1:
            raise ConfigError("warmup and weight_decay must be >= 0, label_smoothing in [0, 1)")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1) or None, got {self.dropout}")
        if not 0 <= self.decoder_input_dropout < 1:
            raise ConfigError(f"decoder_input_dropout must be in [0, 1), got {self.decoder_input_dropout}")
        if self.context_margin < 0 or self.context_margin_weight <= 0:
            raise ConfigError(f"context_margin must be >= 0 and context_margin_weight > 0, got "
                              f"{self.context_margin}, {self.context_margin_weight}")
        if self.context_margin and self.batch_size < 2:
            raise ConfigError("context_margin compares rows of a batch: batch_size must be >= 2")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if not 0 < self.denoise_rate < 1:
            raise ConfigError(f"denoise_rate must be in (0, 1), got {self.denoise_rate}")
        if self.lora_rank < 0 or self.lora_alpha <= 0:
            raise ConfigError(f"lora_rank must be >= 0 and lora_alpha > 0, got {self.lora_rank}, {self.lora_alpha}")
        if self.lora_rank and self.is_scratch:
            raise ConfigError("lora_rank adapts a pretrained base: not with base_model='scratch'")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"max_steps must be >= 1 or -1 (use epochs), got {self.max_steps}")
        if self.max_steps == -1 and self.epochs <= 0:
            raise ConfigError(f"epochs must be > 0 when max_steps is -1, got {self.epochs}")
        if self.stop_at_step is not None and (self.stop_at_step < 1 or 0 < self.max_steps < self.stop_at_step):
            raise ConfigError(f"stop_at_step must be in [1, max_steps], got {self.stop_at_step}")

    @property
    def is_scratch(self) -> bool:
        return self.base_model == SCRATCH

    @property
    def optimizer_name(self) -> str:
        """The transformers ``optim`` name of ``optimizer``."""
        return OPTIMIZERS[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        data = dict(data)
        data["scratch"] = ScratchModelConfig(**data.get("scratch", {}))
        data.setdefault("data_seed", data.get("seed", 42))  # written before the split had a seed of its own
        return cls(**data)
