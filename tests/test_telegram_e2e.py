"""End to end: the real bot (``run_bot``: migrations, presets, tiny model, Bot, Dispatcher, long
polling, SIGTERM handling) against the fake Telegram Bot API server on 127.0.0.1; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import torch
from sqlalchemy import select

from bot import texts
from bot.generation import build_generator
from bot.runtime import open_runtime
from bot.storage.database import Database
from bot.storage.models import Message
from bot.storage.repository import Repository
from bot.telegram.app import run_bot, serve
from tests.conftest import POSTGRES_PASSWORD
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import bot_settings

torch.set_num_threads(1)
USERS = [11, 12, 13, 14]


@pytest.fixture
async def fake():
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


def buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row}


def replies_to(fake: FakeTelegram, chat_id: int) -> list[dict]:
    """The bot's generated replies in a chat (the messages carrying the feedback buttons)."""
    return [c.result for c in fake.sent("sendMessage", chat_id=chat_id) if "👍" in str(c.params.get("reply_markup"))]


async def stop(task: asyncio.Task) -> None:
    """SIGTERM to this process: the bot's own signal handler stops polling gracefully."""
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 60)


def storage(target: str | Path) -> dict[str, Any]:
    """The settings that put the bot's database at ``target`` (the ``database_target`` fixture)."""
    return {"database_path": target} if isinstance(target, Path) else {"database_url": target}


async def reply_sources(target: str | Path, chat_replies: list[dict]) -> list[str]:
    """The user message each delivered reply answers, in delivery order."""
    database = await Database.open(target)
    try:
        async with database.session() as session:
            repo = Repository(session)
            sources = []
            for message in chat_replies:
                reply = await repo.find_reply(int(buttons(message)["👍"].split(":")[-1]))
                sources.append(reply.reply_to.text)
            return sources
    finally:
        await database.close()


async def test_bot_end_to_end(fake: FakeTelegram, tmp_path: Path, tiny_model_dir: Path, database_target: str | Path,
                              caplog) -> None:
    """On SQLite and on PostgreSQL."""
    settings = bot_settings(fake, tmp_path, tiny_model_dir, **storage(database_target))
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(run_bot(settings))
    await fake.wait_for(lambda: fake.sent("setMyCommands"))
    commands = fake.sent("setMyCommands")[0].params["commands"]
    assert {c["command"] for c in commands} == set(texts.COMMANDS)

    # several users at once, three messages each, each written after the bot's answer to the last
    for n in range(3):
        for user in USERS:
            await fake.push(fake.text_update(user, f"пользователь {user}, сообщение {n}"))
        await fake.wait_for(lambda: all(len(replies_to(fake, u)) == n + 1 for u in USERS))

    # a custom persona through the FSM, then a chat with it
    first = USERS[0]
    await fake.push(fake.text_update(first, "/persona"))
    await fake.wait_for(lambda: len(fake.texts_to(first)) == 4)
    menu = fake.sent("sendMessage", chat_id=first)[-1].result
    await fake.push(fake.callback_update(first, menu, buttons(menu)[texts.PERSONA_CUSTOM_BUTTON]))
    await fake.push(fake.text_update(first, "Я космонавт.\nЯ люблю звёзды."))
    await fake.push(fake.text_update(first, "/done"))
    await fake.push(fake.text_update(first, "Кем ты работаешь?"))
    await fake.wait_for(lambda: len(replies_to(fake, first)) == 4)
    assert "Я космонавт." in fake.texts_to(first)[-2]

    # 👍 and 🔄 on the second user's last reply
    second = USERS[1]
    reply = replies_to(fake, second)[-1]
    await fake.push(fake.callback_update(second, reply, buttons(reply)["👍"]))
    await fake.push(fake.callback_update(second, reply, buttons(reply)["🔄"]))
    await fake.wait_for(lambda: fake.sent("editMessageText", chat_id=second))
    assert fake.sent("editMessageText", chat_id=second)[0].params["message_id"] == str(reply["message_id"])

    # /export, then /forget with its confirmation
    third = USERS[2]
    await fake.push(fake.text_update(third, "/export"))
    await fake.push(fake.text_update(third, "/forget"))
    await fake.wait_for(lambda: fake.sent("sendDocument", chat_id=third) and fake.texts_to(third)[-1] == texts.FORGET_CONFIRM)
    confirm = fake.sent("sendMessage", chat_id=third)[-1].result
    await fake.push(fake.callback_update(third, confirm, buttons(confirm)[texts.FORGET_YES]))
    await fake.wait_for(lambda: fake.sent("editMessageText", chat_id=third))
    _, exported = fake.sent("sendDocument", chat_id=third)[0].document()
    assert f"пользователь {third}, сообщение 2".encode() in exported

    await stop(task)

    for user in USERS:  # every user got the answers in the order they wrote
        expected = [f"пользователь {user}, сообщение {n}" for n in range(3)]
        if user != third:  # the third user's data is gone
            assert (await reply_sources(database_target, replies_to(fake, user)))[:3] == expected
    assert {"deleteWebhook", "getMe", "sendChatAction", "answerCallbackQuery"} <= {c.method for c in fake.calls}
    assert fake.token not in caplog.text and POSTGRES_PASSWORD not in caplog.text


class BlockingGenerator:
    """The real generator, except that ``generate`` never finishes: a reply caught by a stop."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.entered = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        await asyncio.Event().wait()


async def test_message_pending_at_stop_is_answered_after_restart(fake: FakeTelegram, tmp_path: Path, tiny_model_dir: Path,
                                                                  database_target: str | Path) -> None:
    settings = bot_settings(fake, tmp_path, tiny_model_dir, shutdown_grace_s=0.2, **storage(database_target))
    user = USERS[0]
    blocking = BlockingGenerator(build_generator(settings))
    async with open_runtime(settings, generator=blocking) as runtime:  # type: ignore[arg-type]
        task = asyncio.create_task(serve(runtime))
        await fake.wait_for(lambda: fake.sent("setMyCommands"))
        await fake.push(fake.text_update(user, "Ты меня слышишь?"))
        await asyncio.wait_for(blocking.entered.wait(), 30)
        await stop(task)  # the reply is still being generated: cancelled after the grace period
    assert fake.texts_to(user) == []
    database = await Database.open(database_target)
    async with database.session() as session:
        assert list(await session.scalars(select(Message.status))) == ["pending"]
    await database.close()

    task = asyncio.create_task(run_bot(settings))  # the restart
    await fake.wait_for(lambda: replies_to(fake, user))
    await stop(task)
    (reply,) = replies_to(fake, user)
    assert reply["text"].startswith(texts.PENDING_ANSWER_PREFIX)
    assert await reply_sources(database_target, [reply]) == ["Ты меня слышишь?"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode_answers_posted_updates_and_rejects_a_wrong_secret(
    fake: FakeTelegram, tmp_path: Path, tiny_model_dir: Path, caplog
) -> None:
    port, secret, user = free_port(), "webhook-s3cret", USERS[0]
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = bot_settings(fake, tmp_path, tiny_model_dir, bot_mode="webhook", webhook_url=url,
                            webhook_host="127.0.0.1", webhook_port=port, webhook_secret=secret)
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(run_bot(settings))
    (registered,) = await fake.wait_for(lambda: fake.sent("setWebhook"))  # sent once the server listens
    assert registered.params["url"] == url and registered.params["secret_token"] == secret
    update = fake.text_update(user, "Привет через вебхук")
    async with aiohttp.ClientSession() as http:
        for wrong in ({"X-Telegram-Bot-Api-Secret-Token": "guess"}, {}):
            async with http.post(url, json=update, headers=wrong) as response:
                assert response.status == 401
        assert fake.texts_to(user) == []
        async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as response:
            assert response.status == 200
    (reply,) = replies_to(fake, user)  # handled inside the request: sent before the response
    await stop(task)
    assert await reply_sources(settings.database_target, [reply]) == ["Привет через вебхук"]
    assert "setMyCommands" in {c.method for c in fake.calls} and "deleteWebhook" not in {c.method for c in fake.calls}
    assert secret not in caplog.text and fake.token not in caplog.text
