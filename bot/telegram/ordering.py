"""One update at a time per user, first come first served, and quick messages joined into one turn.

A user's updates are handled in the order they arrived while different users run concurrently
(a waiting update holds no database session). Not aiogram's SimpleEventIsolation: that lock is
taken before our middlewares run, so flood control could only measure after the wait.

Chat messages that arrive while the bot is still busy with the same user are *joined*: people
write «Привет!», «Как дела?», «Чем занимаешься?» within a second, and the persona chat data merges
such messages into one turn too. The first waiting message of a chat opens a ``Turn``; those
that follow it in the same chat join it and wait behind it. When the opener's turn comes, it
takes every message joined so far (if the user is chatting, not in the middle of a form) and
the chat handler answers them together, as one turn (``data["turn"]``); the joined messages
find themselves answered and return. Anything else from the user (a command, a button) closes
the turn, so nothing is ever answered out of order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject, User as TelegramUser

from bot.telegram.updates import chat_text


@dataclass
class Turn:
    """Chat messages of one user in one chat, answered together."""

    chat_id: int
    messages: list[Message]
    taken: bool = False
    """The opener took the messages: each is answered by its reply."""


@dataclass
class _UserQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    open_turn: Turn | None = None
    """The turn that chat messages arriving now join (waiting for the lock, not yet taken)."""


class Ordering(BaseMiddleware):
    """Per-user FIFO (asyncio.Lock wakes waiters in order; polling starts update tasks in order)."""

    def __init__(self) -> None:
        self._queues: dict[int, _UserQueue] = {}

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        queue = self._queues.setdefault(user.id, _UserQueue())
        queue.users += 1
        try:
            turn = await self._arrive(queue, event)
            async with queue.lock:
                if turn is not None and turn.taken:  # answered with the turn it joined
                    return None
                # aiogram's FSM middleware read the state before this wait; an update ahead of
                # this one (e.g. the «✍️ Написать свою» press) may have changed it since.
                if (state := data.get("state")) is not None:
                    data["raw_state"] = await state.get_state()
                if turn is not None:
                    self._take(queue, turn, data)
                return await handler(event, data)
        finally:
            queue.users -= 1
            if queue.users == 0:  # nobody waiting: forget the user, memory stays bounded
                del self._queues[user.id]

    @staticmethod
    async def _arrive(queue: _UserQueue, event: TelegramObject) -> Turn | None:
        """The turn this update belongs to: chat text arriving while the user is being answered joins
        (or opens) one; anything else closes the open turn. Runs with no await between the lock check
        and the bookkeeping except ``chat_text``'s cached lookup, so arrival order is kept."""
        message = await chat_text(event)
        if message is None or not queue.lock.locked():
            queue.open_turn = None
            return None
        turn = queue.open_turn
        if turn is not None and turn.chat_id == message.chat.id:
            turn.messages.append(message)
        else:
            turn = queue.open_turn = Turn(message.chat.id, [message])
        return turn

    @staticmethod
    def _take(queue: _UserQueue, turn: Turn, data: dict[str, Any]) -> None:
        """The opener's turn has come: answer all its messages at once, unless a form is being filled
        in (then each message is its own answer to the form, and each is handled in order)."""
        if queue.open_turn is turn:
            queue.open_turn = None  # later messages open a new turn
        if data.get("raw_state") is None and len(turn.messages) > 1:
            turn.taken = True
            data["turn"] = list(turn.messages)
