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

With ``REDIS_URL`` several workers share each user's line (``RedisLines``): an update draws a ticket as it
arrives and is handled only after every earlier ticket of that user, whichever worker drew it, is done. A
burst is joined only from tickets that follow one another (no other worker's message between them). A
worker that stops (killed mid-reply) stops refreshing its tickets, and after ``LINE_TTL_S`` the line goes on
without them; their messages stay pending and are answered at a start, as with one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
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
    last_ticket: int | None = None
    """With shared lines: the ticket of the last message joined."""


LINE_TTL_S = 15.0
"""A ticket not refreshed for this long belongs to a worker that stopped: the user's line goes on without it."""
LINE_POLL_S = 0.02
LINE_KEEP_S = 86_400
"""A user's line counters are dropped after a day without updates (numbering starts again)."""

_DRAW = """
local ticket = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3] .. ticket, 1, 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ticket - 1) end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return ticket
"""
"""A ticket (tickets, done, alive: prefix), alive at once: drawing and being seen alive are one step."""
_ADVANCE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
"""done: from ARGV[1] to ARGV[2], if nobody moved it meanwhile."""


class RedisLines:
    """Each user's line shared by every worker through Redis: numbered tickets, served in order."""

    def __init__(self, redis, prefix: str, ttl_s: float = LINE_TTL_S) -> None:  # noqa: ANN001
        self.redis, self.prefix, self.ttl_s = redis, prefix, ttl_s
        self._draw, self._advance = redis.register_script(_DRAW), redis.register_script(_ADVANCE)

    def _keys(self, user_id: int) -> tuple[str, str, str]:
        base = f"{self.prefix}:line:{user_id}"
        return f"{base}:tickets", f"{base}:done", f"{base}:alive:"

    @contextlib.asynccontextmanager
    async def ticket(self, user_id: int) -> AsyncIterator[int]:
        """Draw the next ticket and keep it alive until the block ends; then it is done (the next one goes)."""
        tickets, done, alive = self._keys(user_id)
        number = int(await self._draw(keys=[tickets, done, alive], args=[int(self.ttl_s * 1000), LINE_KEEP_S]))
        refresh = asyncio.create_task(self._keep_alive(f"{alive}{number}"))
        try:
            yield number
        finally:
            refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresh
            # shielded: a cancelled update (a stop) still lets the line go on
            await asyncio.shield(self._finish(user_id, number))

    async def wait_turn(self, user_id: int, number: int) -> None:
        """Until every earlier ticket of the user is done; a dead one (not refreshed) is skipped."""
        _, done, alive = self._keys(user_id)
        while True:
            served = int(await self.redis.get(done) or 0)
            if served >= number - 1:
                return
            if not await self.redis.exists(f"{alive}{served + 1}"):  # its worker stopped: go on without it
                await self._advance(keys=[done], args=[served, served + 1, LINE_KEEP_S])
                continue
            await asyncio.sleep(LINE_POLL_S)

    async def _finish(self, user_id: int, number: int) -> None:
        _, done, alive = self._keys(user_id)
        await self._advance(keys=[done], args=[number - 1, number, LINE_KEEP_S])
        await self.redis.delete(f"{alive}{number}")

    async def _keep_alive(self, key: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            await self.redis.pexpire(key, int(self.ttl_s * 1000))


@dataclass
class _UserQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    arrival: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Shared lines: tickets are drawn in the order updates arrive here."""
    users: int = 0
    open_turn: Turn | None = None
    """The turn that chat messages arriving now join (waiting for the lock, not yet taken)."""


class Ordering(BaseMiddleware):
    """Per-user FIFO (asyncio.Lock wakes waiters in order; polling starts update tasks in order); with
    ``lines`` also across workers."""

    def __init__(self, lines: RedisLines | None = None) -> None:
        self._queues: dict[int, _UserQueue] = {}
        self.lines = lines

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        queue = self._queues.setdefault(user.id, _UserQueue())
        queue.users += 1
        try:
            if self.lines is None:
                return await self._in_line(queue, handler, event, data, await self._arrive(queue, event))
            async with contextlib.AsyncExitStack() as stack:
                async with queue.arrival:
                    ticket = await stack.enter_async_context(self.lines.ticket(user.id))
                    turn = await self._arrive(queue, event, ticket)
                return await self._in_line(queue, handler, event, data, turn, user.id, ticket)
        finally:
            queue.users -= 1
            if queue.users == 0:  # nobody waiting: forget the user, memory stays bounded
                del self._queues[user.id]

    async def _in_line(self, queue: _UserQueue, handler, event: TelegramObject, data: dict[str, Any],  # noqa: ANN001
                       turn: Turn | None, user_id: int = 0, ticket: int | None = None) -> Any:
        async with queue.lock:
            if ticket is not None:
                await self.lines.wait_turn(user_id, ticket)
            if turn is not None and turn.taken:  # answered with the turn it joined
                return None
            # aiogram's FSM middleware read the state before this wait; an update ahead of
            # this one (e.g. the «✍️ Написать свою» press) may have changed it since.
            if (state := data.get("state")) is not None:
                data["raw_state"] = await state.get_state()
            if turn is not None:
                self._take(queue, turn, data)
            return await handler(event, data)

    @staticmethod
    async def _arrive(queue: _UserQueue, event: TelegramObject, ticket: int | None = None) -> Turn | None:
        """The turn this update belongs to: chat text arriving while the user is being answered joins
        (or opens) one; anything else closes the open turn. Runs with no await between the lock check
        and the bookkeeping except ``chat_text``'s cached lookup, so arrival order is kept. With shared
        lines, a message joins only a turn whose last ticket is just before its own."""
        message = await chat_text(event)
        if message is None or not queue.lock.locked():
            queue.open_turn = None
            return None
        turn = queue.open_turn
        follows = ticket is None or (turn is not None and turn.last_ticket == ticket - 1)
        if turn is not None and turn.chat_id == message.chat.id and follows:
            turn.messages.append(message)
            turn.last_ticket = ticket
        else:
            turn = queue.open_turn = Turn(message.chat.id, [message], last_ticket=ticket)
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
