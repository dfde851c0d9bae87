"""Load through Telegram: many users write at once to the real bot (long polling against the fake
Bot API, real dispatcher and SQLite, tiny model), each writing again as soon as answered. Every
message is answered, in each user's order.

Both on an idle machine and with every core kept busy by other processes (issue #18: writes must
never fail for contention, however slow the machine). The figures (end-to-end p50/p95, event-loop
lag p99) are printed, not asserted: ``pytest -s``. CI runs 40 users x 5 messages; the full load run
is ``LOAD_USERS=200 LOAD_MESSAGES=5 python -m pytest tests/test_load.py -s`` (docs/benchmark.md).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from bot.telegram.app import run_bot
from tests.fake_telegram import Call, FakeTelegram
from tests.telegram_harness import bot_settings
from tests.test_telegram_e2e import reply_sources, stop

torch.set_num_threads(1)
USERS = int(os.environ.get("LOAD_USERS", 40))
MESSAGES = int(os.environ.get("LOAD_MESSAGES", 5))
TICK_S = 0.01
WAIT_S = 900
BUSY_PROCESSES_PER_CORE = 2
BUSY_LIMIT_S = WAIT_S + 120


class TimedTelegram(FakeTelegram):
    """The fake server, also noting when each bot call arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[int, float] = {}  # id(call) -> perf_counter

    async def _record(self, call: Call) -> None:
        self.arrived[id(call)] = time.perf_counter()
        await super()._record(call)


def replies(fake: TimedTelegram, chat_id: int) -> list[Call]:
    """The generated replies (they carry the feedback buttons) in a chat, in delivery order."""
    return [c for c in fake.sent("sendMessage", chat_id=chat_id) if "👍" in str(c.params.get("reply_markup"))]


async def ticker(lateness: list[float], stopped: asyncio.Event) -> None:
    """How late the event loop wakes a task that sleeps ``TICK_S``: its lag."""
    while not stopped.is_set():
        started = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lateness.append(time.perf_counter() - started - TICK_S)


async def test_many_users_at_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    await run_load(tmp_path, tiny_model_dir, "idle machine")


async def test_many_users_on_a_saturated_machine(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The same load while other programs keep every core busy, as on a small server running a model:
    writes then span many event-loop turns and thread hops, and must still never fail (issue #18)."""
    with busy_cores(BUSY_PROCESSES_PER_CORE * (os.cpu_count() or 1)):
        await run_load(tmp_path, tiny_model_dir, "all cores saturated")


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` busy-loop processes for the duration of the block; each also stops by itself after
    BUSY_LIMIT_S, so none can outlive a test that dies."""
    loop = f"import time\nend = time.monotonic() + {BUSY_LIMIT_S}\nwhile time.monotonic() < end: pass"
    processes = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]
    try:
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


async def run_load(tmp_path: Path, model_dir: Path, condition: str) -> None:
    fake = TimedTelegram()
    await fake.start()
    settings = bot_settings(fake, tmp_path, model_dir, batch_max_wait_ms=0)
    task = asyncio.create_task(run_bot(settings))
    try:
        await fake.wait_for(lambda: fake.sent("setMyCommands"))
        users = range(1000, 1000 + USERS)
        lateness: list[float] = []
        stopped = asyncio.Event()
        lag_task = asyncio.create_task(ticker(lateness, stopped))
        pushed: dict[tuple[int, str], float] = {}
        started = time.perf_counter()
        await people(fake, users, pushed)
        wall = time.perf_counter() - started
        stopped.set()
        await lag_task
    finally:
        await stop(task)
        await fake.stop()

    latencies = []
    for user in users:
        calls = replies(fake, user)
        assert len(calls) == MESSAGES  # none lost, none doubled
        sources = await reply_sources(settings.database_path, [c.result for c in calls])
        assert sources == [f"пользователь {user}, сообщение {n}" for n in range(MESSAGES)]  # each user's order
        latencies += [fake.arrived[id(c)] - pushed[(user, s)] for c, s in zip(calls, sources, strict=True)]
    assert await message_statuses(settings.database_path) == {"answered": USERS * MESSAGES}
    p50, p95 = np.percentile(latencies, [50, 95]) * 1000
    lag_p99 = np.percentile(lateness, 99) * 1000
    print(
        f"\nload ({condition}): {USERS} users x {MESSAGES} messages in {wall:.1f} s ({USERS * MESSAGES / wall:.0f} "
        f"replies/s); end-to-end p50 {p50:.0f} ms, p95 {p95:.0f} ms; event-loop lag p99 {lag_p99:.1f} ms "
        f"(max {max(lateness) * 1000:.1f} ms, {len(lateness)} ticks)"
    )


async def people(fake: TimedTelegram, users: range, pushed: dict[tuple[int, str], float]) -> None:
    """Users who write MESSAGES messages each, the next as soon as the bot has answered the one before
    (messages sent while the bot is still answering are joined into one turn: tests/test_bursts.py)."""
    written = dict.fromkeys(users, 0)

    async def write(user: int) -> None:
        text = f"пользователь {user}, сообщение {written[user]}"
        pushed[(user, text)] = time.perf_counter()
        written[user] += 1
        await fake.push(fake.text_update(user, text))

    def answered() -> list[int]:  # users whose every message so far is answered, with more to write
        counts = Counter(int(c.params["chat_id"]) for c in fake.sent("sendMessage") if "👍" in str(c.params.get("reply_markup")))
        return [u for u in users if written[u] < MESSAGES and counts[u] == written[u]]

    for user in users:
        await write(user)
    while any(n < MESSAGES for n in written.values()):
        for user in await fake.wait_for(answered, timeout=WAIT_S):
            await write(user)
    await fake.wait_for(lambda: all(len(replies(fake, u)) >= MESSAGES for u in users), timeout=WAIT_S)


async def message_statuses(database_path: Path) -> dict[str, int]:
    """User messages by status: all "answered" when nothing failed or stayed pending."""
    with sqlite3.connect(database_path) as connection:
        return dict(connection.execute("SELECT status, COUNT(*) FROM messages WHERE role = 'user' GROUP BY status"))
