"""``python -m training.probes.copy_probe``: can a scratch model of an experiment learn to copy, with its optimizer?

A model that cannot learn to carry tokens from its input to its output in a few hundred steps will not
learn to read a persona or a dialogue either. The probe trains the experiment's scratch T5 (random
init, as ``--base-model scratch`` builds it) on the simplest such task: the input is 24 random tokens
out of 190, the target its last 12. Guessing scores ln(190) = 5.25 nats per token; only copying
goes below it. The optimizer is built as the Trainer builds it for the experiment (``--optimizer``,
``--learning-rate`` to compare others), with a short linear warm-up and then a constant rate.

    python -m training.probes.copy_probe ru_mix_cpu --optimizer adafactor --learning-rate 3e-3
    python -m training.probes.copy_probe ru_mix_cpu --optimizer adafactor_scaled --learning-rate 1e-2

It prints the mean loss of every 50 steps (docs/model_recipe.md, has the figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time

import tempfile
from pathlib import Path

import torch
from transformers import T5ForConditionalGeneration, Trainer

from training.experiments.config import OPTIMIZERS, ScratchModelConfig
from training.experiments.registry import get_experiment
from training.models.scratch import t5_config
from training.train import optimizer_override, training_arguments

FIRST_TOKEN, TOKENS, SOURCE_LENGTH, TARGET_LENGTH, BATCH = 10, 190, 24, 12, 16
WARMUP_STEPS = 30


def build_optimizer(model: torch.nn.Module, name: str, learning_rate: float) -> torch.optim.Optimizer:
    """The optimizer ``training.train`` trains with under ``name``: its own override, else the Trainer's
    (weight decay aside: the Trainer adds it as parameter groups)."""
    config = dataclasses.replace(get_experiment("ru_mix_cpu"), optimizer=name, learning_rate=learning_rate,
                                 precision="fp32")
    with tempfile.TemporaryDirectory() as scratch_dir:
        cls, kwargs = optimizer_override(config) or Trainer.get_optimizer_cls_and_kwargs(
            training_arguments(config, Path(scratch_dir)))
    return cls(model.parameters(), **kwargs)


def copy_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    source = torch.randint(FIRST_TOKEN, FIRST_TOKEN + TOKENS, (BATCH, SOURCE_LENGTH), generator=generator)
    return source, source[:, -TARGET_LENGTH:].contiguous()


def probe(sizes: ScratchModelConfig, optimizer: str, learning_rate: float, steps: int, *, seed: int = 0) -> list[float]:
    """Mean loss of every 50 steps (printed as it goes) of a scratch T5 of ``sizes``."""
    torch.manual_seed(seed)
    config = t5_config(sizes, vocab_size=sizes.vocab_size, pad_token_id=0, eos_token_id=1)
    config.dropout_rate = 0.0  # as the CPU recipe trains
    model = T5ForConditionalGeneration(config).train()
    opt = build_optimizer(model, optimizer, learning_rate)
    generator = torch.Generator().manual_seed(seed + 1)
    means, total, started = [], 0.0, time.perf_counter()
    print(f"{optimizer} at {learning_rate:g}; guessing scores {math.log(TOKENS):.2f}")
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = learning_rate * min(1.0, step / WARMUP_STEPS)
        source, target = copy_batch(generator)
        loss = model(input_ids=source, labels=target).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        total += loss.item()
        if step % 50 == 0:
            means.append(total / 50)
            print(f"step {step}: loss {means[-1]:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
            total = 0.0
    return means


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.probes.copy_probe", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", default="ru_mix_cpu", help="whose scratch model shape (default ru_mix_cpu)")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="default: the experiment's")
    parser.add_argument("--learning-rate", type=float, help="default: the experiment's")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    config = get_experiment(args.experiment)
    config = dataclasses.replace(config, optimizer=args.optimizer or config.optimizer,
                                 learning_rate=args.learning_rate or config.learning_rate)
    print(f"the scratch model of {config.name}: {config.scratch}")
    probe(config.scratch, config.optimizer, config.learning_rate, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
