"""The bot's real Dispatcher and Bot wired to the fake Bot API server, a real database (a SQLite file, or a
PostgreSQL database given as ``database_url``) and a real tiny model: ``async with telegram_harness(tmp_path, model_dir, **settings) as h``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher

from bot.config import DecodingSettings, Settings
from bot.runtime import Runtime, open_runtime
from bot.storage.repository import Repository
from bot.telegram.app import build_bot, build_dispatcher
from tests.fake_telegram import FakeTelegram


def bot_settings(fake: FakeTelegram, tmp_path: Path, model_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        telegram_token=fake.token,
        telegram_api_url=fake.base_url,
        database_path=tmp_path / "bot.sqlite3",
        model_path=str(model_dir),
        torch_threads=1,
        flood_per_minute=0.0,
        # Greedy replies; 🔄 samples, and a hot, untruncated distribution makes a tiny
        # model's new variant differ from the old one (else Telegram: "message is not modified").
        decoding=DecodingSettings(strategy="greedy", max_new_tokens=12, temperature=5.0, top_p=1.0, top_k=1000),
        shutdown_grace_s=5.0,
    )
    unknown = set(overrides) - set(Settings.model_fields)
    assert not unknown, f"not settings: {sorted(unknown)}"  # Settings ignores unknown keys (an .env may hold others)
    return Settings(**{**values, **overrides}, _env_file=None)  # validated: a secret given as text is a SecretStr


@dataclass
class Harness:
    fake: FakeTelegram
    runtime: Runtime
    bot: Bot
    dp: Dispatcher

    async def feed(self, update: dict) -> None:
        """Handle one update exactly as polling would (same middlewares, routers, errors)."""
        await self.dp.feed_raw_update(self.bot, update)

    async def say(self, user_id: int, text: str, **kwargs: Any) -> None:
        await self.feed(self.fake.text_update(user_id, text, **kwargs))

    def last_text(self, chat_id: int) -> str:
        return self.fake.texts_to(chat_id)[-1]

    def last_message(self, chat_id: int) -> dict:
        """The bot's last message in ``chat_id`` as the fake server stores it (for button presses)."""
        return self.fake.sent("sendMessage", chat_id=chat_id)[-1].result

    def buttons(self, message: dict) -> dict[str, str]:
        """Button label -> callback data of an inline keyboard."""
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return {button["text"]: button["callback_data"] for row in rows for button in row}

    @asynccontextmanager
    async def repo(self) -> AsyncIterator[Repository]:
        async with self.runtime.database.session() as session:
            yield Repository(session)

    def exported(self) -> dict:
        name, content = self.fake.sent("sendDocument")[-1].document()
        assert name.endswith(".json")
        return json.loads(content)


@asynccontextmanager
async def telegram_harness(tmp_path: Path, model_dir: Path, **overrides: Any) -> AsyncIterator[Harness]:
    fake = FakeTelegram()
    await fake.start()
    try:
        settings = bot_settings(fake, tmp_path, model_dir, **overrides)
        async with open_runtime(settings) as runtime:
            bot = build_bot(settings)
            dp = build_dispatcher(settings, runtime.database, runtime.chat)
            try:
                yield Harness(fake, runtime, bot, dp)
            finally:
                await dp.storage.close()
                await bot.session.close()
    finally:
        await fake.stop()
