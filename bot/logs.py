"""Logging set-up: one format for the whole process, and secrets never reach a log line."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Settings


class RedactSecrets(logging.Filter):
    """Replaces the bot token (and the webhook secret) wherever it appears in a record.

    The token is part of every Bot API URL, so an HTTP error from a library could carry it.
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                message = message.replace(secret, "***")
                if record.exc_text:
                    record.exc_text = record.exc_text.replace(secret, "***")
            record.msg, record.args = message, ()
        return True


CONSOLE_LOG_NAME = "console.log"


def console_log_path(settings: Settings) -> Path:
    """Where the console chat writes its log: beside the database."""
    return Path(settings.database_path).parent / CONSOLE_LOG_NAME


def setup_logging(settings: Settings, *, console: bool = False) -> Path | None:
    """Log at ``LOG_LEVEL`` to stderr; in the console chat, to ``console_log_path`` instead, with only
    warnings on stderr, so that a person sees the chat and not Alembic's start-up lines. Returns the log file."""
    redact = RedactSecrets([s.get_secret_value() for s in (settings.telegram_token, settings.webhook_secret) if s])
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler()
    handlers: list[logging.Handler] = [stderr]
    log_file = None
    if console:
        log_file = console_log_path(settings)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(formatter)
        handler.addFilter(redact)
    logging.basicConfig(level=settings.log_level, handlers=handlers, force=True)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin at every start
    return log_file
