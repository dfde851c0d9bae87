"""Update middlewares, outermost first (see ``install``):

``InFlight``  counts updates being handled, so a shutdown can wait for them (bounded);
``Access``    drops users outside the allow-list, with a notice;
``Throttle``  per-user rate limit measured at *arrival*, a notice instead of silence;
``Ordering``  one update at a time per user, FIFO: a user's messages are answered in order
              while different users run concurrently (a waiting user holds no DB session).
              Not aiogram's SimpleEventIsolation: that lock is taken before our middlewares
              run, so throttling could only measure after the wait, not at arrival;
``Database``  one session per update, handed to handlers as ``repo: Repository``;
``Users``     the stored user (created on first contact) as ``user: User``, and ``is_admin``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User as TelegramUser

from bot import texts
from bot.chat import ChatService
from bot.config import Settings
from bot.storage.database import Database
from bot.storage.repository import Repository
from bot.telegram.addressing import is_addressed

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def install(dp: Dispatcher, settings: Settings, database: Database, chat: ChatService) -> InFlight:
    """Register all middlewares on ``dp`` (after aiogram's own) and return the in-flight counter."""
    in_flight = InFlight()
    for middleware in (
        in_flight,
        Access(settings.allowed_user_ids, settings.admin_ids),
        Throttle(settings.throttle_seconds),
        Ordering(),
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
        if await _costs(event):
            await _notify(event, texts.NOT_ALLOWED)
        return None


class Throttle(BaseMiddleware):
    """At most one message or button press per ``seconds`` per user; one notice per burst.

    Only what is meant for the bot counts (group chatter that does not address it is free).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[int, float] = {}  # user id -> arrival of the last accepted update
        self._noticed: set[int] = set()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if self.seconds <= 0 or user is None or not await _costs(event):
            return await handler(event, data)
        now = time.monotonic()
        if now - self._last.get(user.id, -self.seconds) >= self.seconds:
            self._last[user.id] = now
            self._noticed.discard(user.id)
            return await handler(event, data)
        if isinstance(event, Update) and event.callback_query:  # a button press is always answered
            await event.callback_query.answer(texts.THROTTLED_BUTTON)
        elif user.id not in self._noticed:  # one notice per burst, not one per dropped message
            self._noticed.add(user.id)
            await _notify(event, texts.THROTTLED.format(seconds=f"{self.seconds:g}"))
        return None


@dataclass
class _UserQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Ordering(BaseMiddleware):
    """Per-user FIFO (asyncio.Lock wakes waiters in order; polling starts update tasks in order)."""

    def __init__(self) -> None:
        self._queues: dict[int, _UserQueue] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        queue = self._queues.setdefault(user.id, _UserQueue())
        queue.users += 1
        try:
            async with queue.lock:
                # aiogram's FSM middleware read the state before this wait; an update ahead of
                # this one (e.g. the «✍️ Написать свою» press) may have changed it since.
                if (state := data.get("state")) is not None:
                    data["raw_state"] = await state.get_state()
                return await handler(event, data)
        finally:
            queue.users -= 1
            if queue.users == 0:  # nobody waiting: forget the user, memory stays bounded
                del self._queues[user.id]


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


async def _costs(event: TelegramObject) -> bool:
    """Does this update ask the bot for work (a message meant for it, or a button press)?"""
    if not isinstance(event, Update):
        return False
    if event.callback_query is not None:
        return True
    message = event.message
    if message is None or message.bot is None:
        return False
    me = await message.bot.me()
    return is_addressed(message, me.id, me.username or "")


async def _notify(event: TelegramObject, text: str) -> None:
    """Tell the user ``text``: as a message, or (for a button press) as an alert."""
    if not isinstance(event, Update):
        return
    if event.callback_query is not None:
        await event.callback_query.answer(text, show_alert=True)
    elif event.message is not None:
        await event.message.answer(text)
