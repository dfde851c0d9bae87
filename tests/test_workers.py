"""Several bot workers behind one webhook URL, sharing a real PostgreSQL database and a real Redis: two worker
processes (``python -m bot telegram`` in webhook mode) get one user's quick messages alternately, as a load
balancer would deliver them; every message is answered exactly once, in order, none lost. A worker killed in the
middle of replies leaves them to the other."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot import texts
from bot.config import DecodingSettings, write_model_decoding
from bot.storage.database import Database
from bot.storage.models import Dialogue, Message
from bot.storage.repository import Repository
from tests.fake_telegram import FakeTelegram
from tests.servers import free_port
from tests.test_telegram_e2e import replies_to, reply_sources

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET = "workers-s3cret"
USERS = (901, 902)
WARM_UP = 903


@pytest.fixture
async def fake():
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


def start_worker(fake: FakeTelegram, model_dir: Path, database_url: str, redis_url: str, port: int,
                 log: Path, **settings: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url, "BOT_MODE": "webhook",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "MODEL_PATH": str(model_dir),
        "TORCH_THREADS": "1", "DECODING_STRATEGY": "greedy", "MAX_NEW_TOKENS": "12", "FLOOD_PER_MINUTE": "0",
        **settings,
    }
    return subprocess.Popen([sys.executable, "-m", "bot", "telegram"], cwd=PROJECT_ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


async def post(http: aiohttp.ClientSession, port: int, update: dict) -> None:
    async with http.post(f"http://127.0.0.1:{port}/hook", json=update,
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
        assert response.status == 200


async def user_turns(database: str | Database, user_chat: int) -> list[tuple[str, str]]:
    """The user's messages and their status, oldest first (``database``: a URL, or one already open)."""
    opened = database if isinstance(database, Database) else await Database.open(database)
    try:
        async with opened.session() as session:
            rows = await session.execute(select(Message.text, Message.status).join(Dialogue)
                                         .where(Message.role == "user", Dialogue.chat_id == user_chat)
                                         .order_by(Message.id))
            return [tuple(row) for row in rows]
    finally:
        if opened is not database:
            await opened.close()


async def test_two_workers_answer_one_users_alternating_messages_once_each_in_order(
    fake: FakeTelegram, tmp_path: Path, tiny_model_dir: Path, postgres_url: str, redis_url: str
) -> None:
    ports = [free_port(), free_port()]
    workers = [start_worker(fake, tiny_model_dir, postgres_url, redis_url, port, tmp_path / f"worker{n}.log")
               for n, port in enumerate(ports)]
    try:
        await fake.wait_for(lambda: len(fake.sent("setWebhook")) == 2, timeout=120)
        async with aiohttp.ClientSession() as http:
            for port in ports:  # warm: a worker's first message loads what it loads once (dictionaries)
                await post(http, port, fake.text_update(WARM_UP, "Привет!"))
            deliveries = []
            # Each user's messages 0.1 s apart, alternately to the two workers: each one arrives while the last is
            # still being answered (the order is the order they reach a worker's event loop).
            for n in range(6):
                for k, user in enumerate(USERS):
                    update = fake.text_update(user, f"{user}: сообщение {n}")
                    deliveries.append(asyncio.create_task(post(http, ports[(n + k) % 2], update)))
                await asyncio.sleep(0.1)
            await asyncio.wait_for(asyncio.gather(*deliveries), 120)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
    logs = "\n".join(log.read_text() for log in sorted(tmp_path.glob("worker*.log")))
    assert all(worker.returncode == 0 for worker in workers), logs
    for user in USERS:
        turns = await user_turns(postgres_url, user)
        lines = [line for text, _ in turns for line in text.split("\n")]
        assert lines == [f"{user}: сообщение {n}" for n in range(6)], logs  # none lost, none doubled, in order
        assert all(status == "answered" for _, status in turns)
        delivered = replies_to(fake, user)
        assert len(delivered) == len(turns)  # one reply per turn
        assert await reply_sources(postgres_url, delivered) == [text for text, _ in turns]  # sent in order
    assert SECRET not in logs and fake.token not in logs



async def test_a_worker_killed_mid_reply_leaves_its_messages_to_the_other(
    fake: FakeTelegram, tmp_path: Path, tiny_model_dir: Path, postgres_url: str, redis_url: str
) -> None:
    """Worker A (slow: long replies) is killed with SIGKILL while it writes a reply (the message stored, still
    pending); the user's next message, sent to worker B, is answered after the one A left, in order. A message
    another stopped worker left pending with nobody writing after it is answered by B's sweep."""
    first, second = 911, 912
    ports = [free_port(), free_port()]
    slow_model = Path(shutil.copytree(tiny_model_dir, tmp_path / "slow"))  # replies of 512 tokens: seconds each
    write_model_decoding(slow_model, DecodingSettings(strategy="contrastive", max_new_tokens=512, min_new_tokens=512))
    killed = start_worker(fake, slow_model, postgres_url, redis_url, ports[0], tmp_path / "worker0.log",
                          DECODING_STRATEGY="contrastive", MAX_NEW_TOKENS="512")
    other = start_worker(fake, tiny_model_dir, postgres_url, redis_url, ports[1], tmp_path / "worker1.log")
    try:
        await fake.wait_for(lambda: len(fake.sent("setWebhook")) == 2, timeout=120)
        async with aiohttp.ClientSession() as http:
            await post(http, ports[1], fake.text_update(second, "Привет!"))
            await fake.wait_for(lambda: replies_to(fake, second), timeout=60)
            # The webhook answers when the update is handled: the delivery is left hanging, as a balancer's would be.
            hanging = asyncio.create_task(post(http, ports[0], fake.text_update(first, f"{first}: до остановки")))
            database = await Database.open(postgres_url)
            try:
                for _ in range(1200):
                    if (turns := await user_turns(database, first)) == [(f"{first}: до остановки", "pending")]:
                        break  # stored, its reply being written
                    await asyncio.sleep(0.02)
            finally:
                await database.close()
            killed.send_signal(signal.SIGSTOP)  # nothing more leaves it; then it dies
            assert not replies_to(fake, first), f"worker A answered before the kill: {turns}"
            killed.kill()
            killed.wait(30)
            with contextlib.suppress(aiohttp.ClientError):
                await hanging
            await post(http, ports[1], fake.text_update(first, f"{first}: после остановки"))
            await leave_pending(postgres_url, second, f"{second}: оставлено")
            await fake.wait_for(lambda: len(replies_to(fake, first)) == 2 and len(replies_to(fake, second)) == 2,
                                timeout=180)
    finally:
        other.send_signal(signal.SIGTERM)
        other.wait(60)
        killed.kill()
    logs = "\n".join(log.read_text() for log in sorted(tmp_path.glob("worker*.log")))
    assert other.returncode == 0, logs
    assert await user_turns(postgres_url, first) == [(f"{first}: до остановки", "answered"),
                                                     (f"{first}: после остановки", "answered")], logs
    delivered = replies_to(fake, first)
    assert await reply_sources(postgres_url, delivered) == [f"{first}: до остановки", f"{first}: после остановки"]
    assert delivered[0]["text"].startswith(texts.PENDING_ANSWER_PREFIX.strip())  # said to answer an earlier message
    assert await user_turns(postgres_url, second) == [("Привет!", "answered"), (f"{second}: оставлено", "answered")]
    assert await reply_sources(postgres_url, replies_to(fake, second)) == ["Привет!", f"{second}: оставлено"]


async def leave_pending(database_url: str, user_chat: int, text: str) -> None:
    """A message stored in the user's open dialogue and left "pending", as by a worker that stopped right after."""
    database = await Database.open(database_url)
    try:
        async with database.session() as session:
            dialogue = await session.scalar(select(Dialogue).where(Dialogue.chat_id == user_chat,
                                                                   Dialogue.closed_at.is_(None)))
            await Repository(session).add_user_message(dialogue, text)
    finally:
        await database.close()
