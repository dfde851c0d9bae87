"""One experiment from data to a servable model directory. Reads top to bottom.

Layout of ``output_dir``::

    checkpoints/checkpoint-N/   Trainer checkpoints (+ experiment.json, dialogue_format.json)
    model/                      the servable result: weights, tokenizer, dialogue_format.json,
                                experiment.json, trainer_log.json (the loss curve)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from transformers import Seq2SeqTrainingArguments, Trainer, set_seed
from transformers.optimization import Adafactor
from transformers.trainer_utils import get_last_checkpoint

from dialogue.format import FORMATS, FormatSpec
from training.data import features
from bot.generation.adapted import write_kept_tokens
from bot.generation.base_models import write_base_file
from training.models.base import load_base
from training.models.checkpoints import (TRAINER_LOG, SaveRunFilesCallback, StopAtStepCallback, load_experiment,
                                         save_run_files)
from training.data.dataset import load_dataset_dict, to_model_inputs
from training.data.names import invents_a_name
from training.data.responses import ignores_the_message
from training.data.denoise import denoising_texts
from training.probes.input_use import InputUseTrainer
from training.experiments.config import ExperimentConfig
from training.data.hypotheses import HYPOTHESES
from training.data.limits import measure_limits
from training.evaluation.model_card import write_model_card
from training.models.reply_loss import ReplyLogitsTrainer
from training.models.vocabulary import earlier_stage_token_ids, used_token_ids

MODEL_SUBDIR = "model"
CHECKPOINTS_SUBDIR = "checkpoints"


def train(config: ExperimentConfig, *, data_dir: Path, output_dir: Path, resume: bool = False) -> Path:
    """Train ``config`` and return the servable model directory (``output_dir/model``)."""
    output_dir = Path(output_dir)
    checkpoints_dir = output_dir / CHECKPOINTS_SUBDIR
    last = get_last_checkpoint(str(checkpoints_dir)) if checkpoints_dir.is_dir() else None
    if last and not resume:
        raise SystemExit(f"{checkpoints_dir} has checkpoints: pass --resume to continue, or another --output-dir")
    if resume and not last:
        print(f"no checkpoint in {checkpoints_dir}; starting from the beginning")
    if last:
        _warn_about_changes(config, Path(last))
    set_seed(config.seed)
    hypothesis = HYPOTHESES[config.hypothesis]
    causal = FORMATS[hypothesis.format_name].causal
    seq2seq_only = [key for key in ("decoder_input_dropout", "context_margin") if getattr(config, key)]
    seq2seq_only += ["objective=denoise"] if config.objective == "denoise" else []
    if causal and seq2seq_only:  # before minutes of data loading
        raise SystemExit(f"{', '.join(seq2seq_only)}: for Seq2Seq models; {hypothesis.format_name} is a CausalLM format")
    if config.max_partner_facts and hypothesis.format_name != "chat_causal":
        raise SystemExit(f"max_partner_facts: only chat_causal has a place for the partner's facts, not {hypothesis.format_name}")

    # 1. Data: train / validation / test samples (persona, context, reply).
    data = load_dataset_dict(
        hypothesis, data_dir, cache_dir=output_dir / "cache", **config.data_options(),
    )
    if config.drop_invented_names:  # train only: validation and test stay what people wrote
        kept = data["train"].filter(lambda persona, reply: not invents_a_name(persona, reply),
                                    input_columns=["persona", "reply"], desc="drop invented names")
        print(f"left out {len(data['train']) - len(kept)} train replies that give the speaker a name "
              f"their persona does not have")
        data["train"] = kept
    if config.drop_ignoring_replies:
        kept = data["train"].filter(lambda context, reply: not ignores_the_message(context, reply),
                                    input_columns=["context", "reply"], desc="drop replies ignoring the message")
        print(f"left out {len(data['train']) - len(kept)} train replies that ignore the statement they answer")
        data["train"] = kept

    # 2. Tokenizer and model: pretrained, scratch (tokenizer trained on the train split) or the checkpoint.
    base = load_base(config, data["train"], format_name=hypothesis.format_name,
                     checkpoint=Path(last) if last else None)
    tokenizer, model = base.tokenizer, base.model
    if causal:  # every reply at the end of its row: the LM head runs over the replies only (reply_loss.py)
        tokenizer.padding_side = "left"

    # 3. The input format, with length limits measured on train by this very tokenizer.
    limits = measure_limits(data["train"], tokenizer)
    spec = FormatSpec(
        name=hypothesis.format_name,
        max_fact_tokens=limits["max_fact_tokens"],
        max_utterance_tokens=limits["max_utterance_tokens"],
        max_history_turns=config.max_history_turns,
        max_source_tokens=config.max_source_tokens,
        max_target_tokens=config.max_target_tokens,
        max_partner_facts=config.max_partner_facts,
        extra={"experiment": config.name, "hypothesis": config.hypothesis, "language": hypothesis.language,
               "base_model": config.base_model, "limits_measured_on": "train split", **limits,
               **({"base_source": base.registered[1], "architecture": base.registered[2]} if base.registered else {})},
    )
    texts = to_model_inputs(data, spec, hypothesis, tokenizer, seed=config.seed)  # shuffles train only
    if config.objective == "denoise":  # the same inputs, words hidden -> the last utterance
        texts = {split: denoising_texts(texts[split], spec, tokenizer, rate=config.denoise_rate, seed=config.seed)
                 for split in ("train", "validation")}
    share = features.truncated_share(texts["train"], tokenizer, spec)
    print(f"format {spec.name}, fact/utterance limits {spec.max_fact_tokens}/{spec.max_utterance_tokens} tokens; "
          f"{share:.1%} of train inputs exceed {spec.max_source_tokens} tokens")

    # 4. Token ids with -100 label masking (the validation loss on a fixed subset: cheap to repeat).
    if config.eval_samples is not None and len(texts["validation"]) > config.eval_samples:
        texts["validation"] = texts["validation"].shuffle(seed=config.seed).select(range(config.eval_samples))
    tokenized = {split: features.tokenize_split(texts[split], tokenizer, spec, desc=f"tokenize {split}")
                 for split in ("train", "validation")}

    # 5. Train, evaluating the validation loss as it goes.
    if causal:
        trainer_cls, extra = ReplyLogitsTrainer, {}
    else:
        hidden_as = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.pad_token_id
        trainer_cls = InputUseTrainer
        extra = {"decoder_input_dropout": config.decoder_input_dropout, "replacement_id": hidden_as,
                 "context_margin": config.context_margin, "context_margin_weight": config.context_margin_weight}
    trainer = trainer_cls(
        model=model,
        args=training_arguments(config, checkpoints_dir),
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        data_collator=features.collator(tokenizer, model),
        processing_class=tokenizer,
        callbacks=[SaveRunFilesCallback(config, spec)]
        + ([StopAtStepCallback(config.stop_at_step)] if config.stop_at_step else []),
        **extra,
    )
    # Seq2SeqTrainer's own __init__ does not take this Trainer argument; create_optimizer reads it.
    trainer.optimizer_cls_and_kwargs = optimizer_override(config)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)  # also evaluates after the last step
    seconds = time.perf_counter() - started

    # 6. The servable directory.
    model_dir = output_dir / MODEL_SUBDIR
    trainer.save_model(str(model_dir))  # weights (safetensors) + tokenizer
    save_run_files(model_dir, config, spec)
    if base.registered and config.lora_rank:  # only adapters in model_dir: name their base, and the tokens used
        write_base_file(model_dir, *base.registered)
        write_kept_tokens(model_dir, used_token_ids(tokenized.values()) | earlier_stage_token_ids(config.base_model))
    (model_dir / TRAINER_LOG).write_text(json.dumps(trainer.state.log_history, indent=1) + "\n", encoding="utf-8")
    write_model_card(model_dir)  # evaluate adds the metrics
    print(_speed(trainer, result, seconds, checkpoint=last))
    print(f"model: {model_dir}\ncheckpoints: {checkpoints_dir}\n"
          f"evaluate with: python -m training.evaluate {model_dir} --data-dir {data_dir}")
    return model_dir


def training_arguments(config: ExperimentConfig, checkpoints_dir: Path) -> Seq2SeqTrainingArguments:
    fp16, bf16 = _precision(config.precision)
    return Seq2SeqTrainingArguments(
        output_dir=str(checkpoints_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        optim=config.optimizer_name,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup,  # transformers 5: < 1 is a ratio
        weight_decay=config.weight_decay,
        label_smoothing_factor=config.label_smoothing,
        max_steps=config.max_steps,
        num_train_epochs=config.epochs,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        # Rows of like length per batch: less padding, which a CPU pays for in full (Gemma's inputs vary 5x).
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        prediction_loss_only=True,  # the validation loss is all that is used; logits would fill memory
        seed=config.seed,
        fp16=fp16,
        bf16=bf16,
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
    )


def optimizer_override(config: ExperimentConfig) -> tuple[type, dict] | None:
    """The optimizer the Trainer cannot build from its ``optim`` name, or ``None``.

    ``adafactor_scaled``: Adafactor with ``scale_parameter=True`` as T5 was trained (T5 initialises
    embeddings at std 1 and query weights at std ~0.008: one fixed step size is too small for the first
    and too large for the second). The learning rate is fixed (the Trainer's schedule drives it), not
    Adafactor's relative step.
    """
    if config.optimizer != "adafactor_scaled":
        return None
    return Adafactor, {"lr": config.learning_rate, "scale_parameter": True, "relative_step": False,
                       "warmup_init": False}


def _precision(precision: str) -> tuple[bool, bool]:
    """(fp16, bf16). ``auto``: bf16 on GPUs that have it (T5 overflows in fp16), else fp16 on GPU, else fp32."""
    if precision == "auto":
        if not torch.cuda.is_available():
            return False, False
        return (False, True) if torch.cuda.is_bf16_supported() else (True, False)
    return precision == "fp16", precision == "bf16"


def _speed(trainer: Trainer, result, seconds: float, *, checkpoint: str | None) -> str:
    """Time per step and examples/s of this session's training, validation time excluded."""
    resumed_at = int(Path(checkpoint).name.rsplit("-", 1)[-1]) if checkpoint else 0
    log = trainer.state.log_history
    eval_seconds = sum(e.get("eval_runtime", 0.0) for e in log if e["step"] > resumed_at)
    train_seconds, steps = seconds - eval_seconds, max(result.global_step - resumed_at, 1)
    args = trainer.args
    examples = steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    eval_loss = next((e["eval_loss"] for e in reversed(log) if "eval_loss" in e), float("nan"))
    return (f"trained {steps} steps in {seconds:.0f}s, {eval_seconds:.0f}s of it validation: "
            f"{train_seconds / steps:.2f} s/step, {examples / train_seconds:.1f} examples/s; "
            f"train loss {result.training_loss:.3f}, validation loss {eval_loss:.3f}")


def _warn_about_changes(config: ExperimentConfig, checkpoint: Path) -> None:
    """The model and tokenizer come from the checkpoint: say which new settings cannot apply to them."""
    saved, now = load_experiment(checkpoint).to_dict(), config.to_dict()
    changed = sorted(key for key in now if now[key] != saved.get(key) and key not in ("max_steps", "epochs"))
    if changed:
        print(f"warning: resuming {checkpoint} with changed settings {changed}; "
              "model sizes and the tokenizer stay those of the checkpoint")
