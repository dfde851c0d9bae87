"""Typed ``key=value`` overrides of an ``ExperimentConfig`` (the ``--set`` option)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from training.experiments.config import ConfigError, ExperimentConfig, ScratchModelConfig


def apply_overrides(config: ExperimentConfig, pairs: list[str]) -> ExperimentConfig:
    """``["learning_rate=1e-3", "scratch.d_model=128"]`` -> a new validated config."""
    changes: dict[str, Any] = {}
    scratch_changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        if key.startswith("scratch."):
            sub = key.removeprefix("scratch.")
            scratch_changes[sub] = _parse(ScratchModelConfig, sub, raw, prefix="scratch.")
        else:
            if key == "scratch":
                raise ConfigError("set scratch sizes one by one, e.g. scratch.d_model=128")
            changes[key] = _parse(ExperimentConfig, key, raw)
    if scratch_changes:
        changes["scratch"] = dataclasses.replace(config.scratch, **scratch_changes)
    return dataclasses.replace(config, **changes)


def _parse(cls: type, key: str, raw: str, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    if key not in hints:
        known = ", ".join(prefix + k for k in hints)
        raise ConfigError(f"unknown config key {prefix + key!r}; known: {known}")
    hint = hints[key]
    raw = raw.strip()
    args = typing.get_args(hint)
    if type(None) in args:  # `int | None`
        if raw.lower() in ("none", "null", ""):
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        return hint(raw)
    except ValueError:
        raise ConfigError(f"{prefix + key}: expected {hint.__name__}, got {raw!r}") from None
