"""Every message a person sends is handled (issue #19), through the real bot: long polling against the
fake Bot API, the real dispatcher and middlewares, SQLite and a tiny model.

Quick messages sent while the bot is still answering are joined into one turn with one reply;
commands are never refused; only a real flood is, with one notice, and the bot stays responsive.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from bot import texts
from bot.telegram.app import run_bot
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import bot_settings
from tests.test_telegram_e2e import replies_to, stop

torch.set_num_threads(1)


@pytest.fixture(params=["memory", "redis"])
def shared_state(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Flood buckets and users' lines in this process, then in a real Redis (``REDIS_URL``: as several workers
    share them)."""
    return {} if request.param == "memory" else {"redis_url": request.getfixturevalue("redis_url")}


@asynccontextmanager
async def running_bot(tmp_path: Path, model_dir: Path, **overrides: Any) -> AsyncIterator[tuple[FakeTelegram, Path]]:
    fake = FakeTelegram()
    await fake.start()
    settings = bot_settings(fake, tmp_path, model_dir, **overrides)
    task = asyncio.create_task(run_bot(settings))
    try:
        await fake.wait_for(lambda: fake.sent("setMyCommands"))
        yield fake, settings.database_path
    finally:
        await stop(task)
        await fake.stop()


def user_turns(database_path: Path, chat_id: int) -> list[tuple[str, str]]:
    """(text, status) of the user's stored messages in a private chat, oldest first."""
    with sqlite3.connect(database_path) as connection:
        return connection.execute(
            "SELECT m.text, m.status FROM messages m JOIN dialogues d ON d.id = m.dialogue_id "
            "WHERE m.role = 'user' AND d.chat_id = ? ORDER BY m.id", (chat_id,)
        ).fetchall()


async def test_start_then_persona_a_moment_later_both_answered(tmp_path: Path, tiny_model_dir: Path) -> None:
    async with running_bot(tmp_path, tiny_model_dir, flood_burst=2, flood_per_minute=1) as (fake, _):
        await fake.push(fake.text_update(7, "/start"))
        await asyncio.sleep(0.05)
        await fake.push(fake.text_update(7, "/persona"))
        await fake.wait_for(lambda: len(fake.texts_to(7)) >= 2)
        await asyncio.sleep(0.2)  # nothing more comes
    greeting, menu = fake.sent("sendMessage", chat_id=7)
    assert greeting.params["text"].startswith(texts.START.format(name="User7"))
    keyboard = menu.params["reply_markup"]["inline_keyboard"]  # the /persona menu, with its keyboard
    assert any(button["text"] == texts.PERSONA_CUSTOM_BUTTON for row in keyboard for button in row)


async def test_quick_messages_of_many_users_are_all_answered_in_order(tmp_path: Path, tiny_model_dir: Path,
                                                                      shared_state: dict[str, Any]) -> None:
    users = range(300, 320)
    async with running_bot(tmp_path, tiny_model_dir, flood_burst=10, flood_per_minute=30, **shared_state) as (fake, database_path):
        for n in range(3):  # 20 users x 3 messages, 50 ms apart
            for user in users:
                await fake.push(fake.text_update(user, f"{user}: сообщение {n}"))
            await asyncio.sleep(0.05)
        await fake.wait_for(lambda: all(all(s == "answered" for _, s in user_turns(database_path, u)) and
                                        "сообщение 2" in "".join(t for t, _ in user_turns(database_path, u))
                                        for u in users), timeout=120)
    joined = 0
    for user in users:
        turns = user_turns(database_path, user)
        lines = [line for text, _ in turns for line in text.split("\n")]
        assert lines == [f"{user}: сообщение {n}" for n in range(3)]  # none lost, none doubled, in order
        assert len(replies_to(fake, user)) == len(turns)  # one reply per turn
        joined += len(turns) < 3
    assert not any(t in texts.FLOODED for user in users for t in fake.texts_to(user))
    print(f"\n20 users x 3 messages 50 ms apart: {joined} users had messages joined into one turn")


async def test_a_flood_gets_one_notice_and_other_users_are_still_answered(tmp_path: Path, tiny_model_dir: Path,
                                                                          shared_state: dict[str, Any]) -> None:
    flooder, other = 500, 501
    async with running_bot(tmp_path, tiny_model_dir, flood_burst=10, flood_per_minute=30, **shared_state) as (fake, database_path):
        for n in range(100):  # 100 messages in 2 s
            await fake.push(fake.text_update(flooder, f"флуд {n}"))
            if n == 50:
                await fake.push(fake.text_update(other, "Привет! Ты тут?"))
            await asyncio.sleep(0.02)
        await fake.wait_for(lambda: replies_to(fake, other), timeout=60)
        await fake.push(fake.text_update(flooder, "/help"))  # commands still pass
        await fake.wait_for(lambda: fake.texts_to(flooder)[-1].startswith(texts.HELP[:30]), timeout=60)
    notices = [t for t in fake.texts_to(flooder) if t.startswith(texts.FLOODED.split("«")[0])]
    assert notices == [texts.FLOODED.format(quote="флуд 10")]  # one, naming where refusing began
    accepted = [line for text, _ in user_turns(database_path, flooder) for line in text.split("\n")]
    assert accepted[:10] == [f"флуд {n}" for n in range(10)] and len(accepted) < 20
    assert all(status == "answered" for _, status in user_turns(database_path, flooder))
