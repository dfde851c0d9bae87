"""Update middlewares, outermost first (see ``install``):

``InFlight``  counts updates being handled, so a shutdown can wait for them (bounded);
``Access``    drops users outside the allow-list, with a notice;
``FloodControl``  a token bucket per user over chat messages, measured at *arrival*: bursts
              pass, a real flood gets one notice (``bot.telegram.flood``);
``Ordering``  one update at a time per user, FIFO, and chat messages that arrive while the
              user is being answered joined into one turn (``bot.telegram.ordering``);
              with Redis, flood buckets and each user's line are shared by every worker;
``Database``  one session per update, handed to handlers as ``repo: Repository``;
``Users``     the stored user (created on first contact) as ``user: User``, and ``is_admin``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import TelegramObject, User as TelegramUser

from bot import texts
from bot.chat import ChatService
from bot.config import Settings
from bot.storage.database import Database
from bot.storage.repository import Repository
from bot.telegram.flood import FloodControl, RedisBuckets
from bot.telegram.ordering import Ordering, RedisLines
from bot.telegram.updates import asks_for_work, notify

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def install(dp: Dispatcher, settings: Settings, database: Database, chat: ChatService, *,
            lines: RedisLines | None = None, buckets: RedisBuckets | None = None) -> InFlight:
    """Register all middlewares on ``dp`` (after aiogram's own) and return the in-flight counter. With ``lines``
    and ``buckets`` (in Redis) each user's line and flood bucket are shared by every worker of this bot."""
    in_flight = InFlight()
    for middleware in (
        in_flight,
        Access(settings.allowed_user_ids, settings.admin_ids),
        FloodControl(settings.flood_burst, settings.flood_per_minute, buckets=buckets),
        Ordering(lines),
        DatabaseSession(database),
        Users(chat, settings.admin_ids),
    ):
        dp.update.outer_middleware(middleware)
    return in_flight


class InFlight(BaseMiddleware):
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return len(self._tasks)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True if every update finished within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Access(BaseMiddleware):
    def __init__(self, allowed: frozenset[int], admins: frozenset[int]) -> None:
        self.allowed = allowed | admins if allowed else frozenset()  # no allow-list: everyone

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if not self.allowed or user is None or user.id in self.allowed:
            return await handler(event, data)
        log.info("update from user %s outside the allow-list ignored", user.id)
        if await asks_for_work(event):
            await notify(event, texts.NOT_ALLOWED)
        return None


class DatabaseSession(BaseMiddleware):
    def __init__(self, database: Database) -> None:
        self.database = database

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.database.session() as session:
            data["repo"] = Repository(session)
            return await handler(event, data)


class Users(BaseMiddleware):
    def __init__(self, chat: ChatService, admin_ids: frozenset[int]) -> None:
        self.chat = chat
        self.admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            data["user"] = await self.chat.ensure_user(data["repo"], "telegram", str(tg_user.id), tg_user.full_name)
            data["is_admin"] = tg_user.id in self.admin_ids
        return await handler(event, data)
