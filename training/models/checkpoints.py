"""Every checkpoint and the final model carry what is needed to serve and to reproduce them."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from dialogue.format import FormatSpec
from training.experiments.config import ExperimentConfig

EXPERIMENT_FILE = "experiment.json"
TRAINER_LOG = "trainer_log.json"
"""The Trainer's log history, kept beside the model (the loss curve is drawn from it)."""


def save_run_files(directory: Path, config: ExperimentConfig, spec: FormatSpec) -> None:
    """``dialogue_format.json`` (how to build inputs) and ``experiment.json`` (how it was trained)."""
    directory = Path(directory)
    spec.save(directory)
    text = json.dumps(config.to_dict(), ensure_ascii=False, indent=2) + "\n"
    (directory / EXPERIMENT_FILE).write_text(text, encoding="utf-8")


def load_experiment(directory: Path) -> ExperimentConfig:
    path = Path(directory) / EXPERIMENT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: not a directory written by python -m training.run")
    return ExperimentConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))


class StopAtStepCallback(TrainerCallback):
    """Ends training after ``step`` updates (saving and evaluating there), whatever the schedule's length."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003 (TrainerCallback signature)
        if state.global_step >= self.step:
            control.should_training_stop = control.should_save = control.should_evaluate = True
        return control


class SaveRunFilesCallback(TrainerCallback):
    """Writes the run files into each checkpoint right after the Trainer saved it."""

    def __init__(self, config: ExperimentConfig, spec: FormatSpec) -> None:
        self.config = config
        self.spec = spec

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003 (TrainerCallback signature)
        checkpoint = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if checkpoint.is_dir():
            save_run_files(checkpoint, self.config, self.spec)
        return control
