"""`python -m bot` runs the Telegram bot when a token is configured, else the console chat.

`python -m bot chat` always starts the console chat; `python -m bot telegram` insists on the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import Settings, SettingsError, load_settings
from bot.generation import ModelLoadError
from bot.logs import setup_logging

log = logging.getLogger("bot")


async def run_console(settings: Settings, user_name: str | None) -> None:
    from bot.console import ConsoleChat
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        await ConsoleChat(runtime, user_name=user_name).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("auto", "chat", "telegram"), default="auto")
    parser.add_argument("--user", help="console chat: whose conversation to continue (default: your login name)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}\nSee .env.example for every setting.", file=sys.stderr)
        return 2
    mode = args.mode
    if mode == "telegram" and not settings.has_telegram:
        print("TELEGRAM_BOT_TOKEN is not set: put it in .env or the environment (see .env.example).", file=sys.stderr)
        return 2
    if mode == "auto":
        mode = "telegram" if settings.has_telegram else "chat"
        if mode == "chat":
            print("TELEGRAM_BOT_TOKEN is not set, so starting the console chat (see .env.example).", file=sys.stderr)
    log_file = setup_logging(settings, console=mode == "chat")
    if log_file is not None:
        print(f"Log: {log_file}", file=sys.stderr)
    try:
        if mode == "telegram":
            from bot.telegram.app import run_bot

            asyncio.run(run_bot(settings))
        else:
            asyncio.run(run_console(settings, args.user))
    except ModelLoadError as exc:
        print(f"Model error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
