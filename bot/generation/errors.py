"""What can go wrong when loading a model or generating a reply."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """The model directory (or hub id) cannot be served; the message names the path and the problem."""


class GenerationError(RuntimeError):
    """A reply could not be generated. The callers of a failed batch all get one."""


class GenerationTimeout(GenerationError):
    """The reply was not ready within ``generation_timeout_s`` (queueing included)."""


class EmptyReply(GenerationError):
    """The model produced only whitespace/special tokens; the caller decides what to say instead."""


class GeneratorClosed(GenerationError):
    """The generator is shutting down (or not started) and takes no more requests."""
