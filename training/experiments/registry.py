"""The registry of experiments: one entry per hypothesis of the research.

The base models are the ones the research used on real hardware. None of them can be
downloaded on an offline machine, so every experiment also runs with
``--base-model scratch`` (a tokenizer and a small model built from the train split).
"""

from __future__ import annotations

import dataclasses

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
        name="ru_mix",
        hypothesis="h5",
        base_model=_RU_BASE,
        optimizer="adafactor",
        learning_rate=1e-3,
        description="H5: Russian persona chat mixed with open-domain dialogue corpora.",
    ),
    ExperimentConfig(
        # The CPU recipe of the model shipped with the bot, chosen by short measured runs on 2 cores
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
        description="H5 on 2 CPU cores: a small scratch T5 with its own tokenizer (models/ru-persona-t5, the default until Gemma).",
    ),
)
_RU_MIX_CPU = _EXPERIMENTS[-1]
_EXPERIMENTS += (
    # A first stage for ru_mix_cpu (not used by it): learn to read the input, i.e. rebuild its last
    # utterance with words hidden, before the dialogue task lets the decoder do without it
    # (training/data/denoise.py). Measured only with the fixed-step Adafactor, with which it learnt no copying.
    dataclasses.replace(
        _RU_MIX_CPU, name="ru_mix_cpu_denoise", objective="denoise", denoise_rate=0.3, optimizer="adafactor",
        learning_rate=3e-3, max_steps=3000, eval_steps=500,
        description="Stage 1 of ru_mix_cpu: rebuild the input's last utterance with 30% of the words hidden.",
    ),
)

_EXPERIMENTS += (
    # Arm A of the base-model comparison (docs/model_recipe.md, session 7): h1's CausalLM arm on the h5
    # mix, from a pretrained multilingual base that can be had offline, LoRA on every projection (the
    # base stays as the package ships it: only ~4M adapter weights are trained and saved).
    ExperimentConfig(
        name="ru_mix_gemma",
        hypothesis="h5_causal",
        base_model="gemma-3-270m",
        lora_rank=16,
        lora_alpha=32.0,
        optimizer="adamw",
        learning_rate=2e-4,
        scheduler="cosine",
        warmup=0.05,
        weight_decay=0.0,
        batch_size=8,
        max_source_tokens=160,  # Gemma's 262k vocabulary spends few tokens on Russian: 4 turns fit
        max_history_turns=4,
        max_target_tokens=40,
        precision="bf16",
        group_by_length=True,
        max_steps=700,  # ~6 s/step on 2 threads: ~1 h 10 min, resumable by checkpoints
        eval_steps=175,
        eval_samples=200,
        logging_steps=10,
        description="H5 CausalLM arm: Gemma 3 270M + LoRA r16 on a plain-text chat prompt.",
    ),
)
_RU_MIX_GEMMA = _EXPERIMENTS[-1]
_EXPERIMENTS += (
    # Arm B: the product's Seq2Seq form from the same weights and settings. The encoder-decoder is T5Gemma 2
    # built from Gemma 3 (both stacks copies of it, cross-attention merged into the self-attention weights:
    # bot/generation/encoder_decoder.py), LoRA on both stacks, GODEL's format (h5).
    dataclasses.replace(
        _RU_MIX_GEMMA, name="ru_mix_gemma_seq2seq", hypothesis="h5",
        description="H5 Seq2Seq arm: T5Gemma 2 built from Gemma 3 270M + LoRA r16, GODEL format.",
    ),
)

_EXPERIMENTS += (
    # Stage 2 of arm A (docs/model_recipe.md, session 11): ru_mix_gemma's adapters go on learning from the
    # persona chat alone, the kind of dialogue the bot has. The mix taught short replies (anekdots 5.4 words,
    # Cornell 6.7, the persona chat 9.4); a lower peak rate, since the adapters are already trained.
    dataclasses.replace(
        _RU_MIX_GEMMA, name="ru_persona_gemma", hypothesis="h4_causal", pretrain="ru_mix_gemma",
        learning_rate=1e-4, max_steps=400, eval_steps=100,
        description="Stage 2 of ru_mix_gemma: its adapters continued on the Russian persona chat alone (h4).",
    ),
)

_EXPERIMENTS += (
    # Stage 2 again, without the replies that give the speaker a name (docs/model_recipe.md, session 14): held back
    # from ending early, ru_persona_gemma and ru_mix_gemma introduce themselves by names no persona has.
    dataclasses.replace(
        _EXPERIMENTS[-1], name="ru_persona_gemma_unnamed", drop_invented_names=True,
        description="As ru_persona_gemma, without the train replies that give the speaker a name their persona lacks.",
    ),
)

_EXPERIMENTS += (
    # The same stage, 2.5 times as long (docs/model_recipe.md, session 15): 400 steps of 8 saw 2.4% of the persona
    # chat's train replies, and the validation loss still fell at the last evaluation.
    dataclasses.replace(
        _EXPERIMENTS[-1], name="ru_persona_gemma_unnamed_long", max_steps=1000, eval_steps=250,
        description="As ru_persona_gemma_unnamed, 1,000 steps instead of 400.",
    ),
)

EXPERIMENTS: dict[str, ExperimentConfig] = {e.name: e for e in _EXPERIMENTS}


def get_experiment(name: str) -> ExperimentConfig:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


def describe_registry() -> str:
    """The table printed by ``python -m training.run --list``."""
    rows = [("name", "hypothesis", "base model", "description")]
    rows += [(e.name, e.hypothesis, e.base_model, e.description) for e in EXPERIMENTS.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3] for r in rows
    )
