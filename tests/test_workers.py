"""Several bot workers behind one webhook URL, sharing a real PostgreSQL database and a real Redis: two worker
processes (``python -m bot telegram`` in webhook mode) get one user's quick messages alternately, as a load
balancer would deliver them; every message is answered exactly once, in order, none lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.storage.database import Database
from bot.storage.models import Dialogue, Message
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
                 log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.base_url, "BOT_MODE": "webhook",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "MODEL_PATH": str(model_dir),
        "TORCH_THREADS": "1", "DECODING_STRATEGY": "greedy", "MAX_NEW_TOKENS": "12", "FLOOD_PER_MINUTE": "0",
    }
    return subprocess.Popen([sys.executable, "-m", "bot", "telegram"], cwd=PROJECT_ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


async def post(http: aiohttp.ClientSession, port: int, update: dict) -> None:
    async with http.post(f"http://127.0.0.1:{port}/hook", json=update,
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
        assert response.status == 200


async def user_turns(database_url: str, user_chat: int) -> list[tuple[str, str]]:
    database = await Database.open(database_url)
    try:
        async with database.session() as session:
            rows = await session.execute(select(Message.text, Message.status).join(Dialogue)
                                         .where(Message.role == "user", Dialogue.chat_id == user_chat)
                                         .order_by(Message.id))
            return [tuple(row) for row in rows]
    finally:
        await database.close()


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

