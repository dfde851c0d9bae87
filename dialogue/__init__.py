"""The model input format shared by the bot and the training code (no heavy imports)."""

from dialogue.format import (
    FORMAT_FILE,
    FORMATS,
    MARKERS,
    SEPARATOR,
    FormatSpec,
    Truncator,
    clean_text,
    own_turns,
    tokenizer_truncator,
    whitespace_truncator,
)

__all__ = [
    "FORMAT_FILE",
    "FORMATS",
    "MARKERS",
    "SEPARATOR",
    "FormatSpec",
    "Truncator",
    "clean_text",
    "own_turns",
    "tokenizer_truncator",
    "whitespace_truncator",
]
