"""Flood control: a token bucket per user over chat messages.

People write in bursts («Привет!», «Как дела?», «Чем занимаешься?» within a second), and a burst
costs one generation anyway (``bot.telegram.ordering`` joins it into one turn). So ``burst``
messages pass at once and ``per_minute`` more each minute; only a real flood, far past a person's
pace, is refused. The flooder gets one notice, which names the first refused message; the flood
ends (and the refused count is logged) once the bucket has refilled, so a flooder whose messages
trickle through at the sustained rate is not told again and again. Commands and button presses
are never refused: they are cheap, and a menu that does not open looks broken.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User as TelegramUser

from bot import texts
from bot.telegram.updates import chat_text, notify

log = logging.getLogger(__name__)
FORGET_AFTER_USERS = 10_000
"""Buckets kept before full ones (users who went quiet) are dropped: memory stays bounded."""


@dataclass
class Bucket:
    tokens: float
    updated: float
    refused: int = 0

    def refill(self, now: float, capacity: int, per_second: float) -> None:
        self.tokens = min(capacity, self.tokens + (now - self.updated) * per_second)
        self.updated = now


class FloodControl(BaseMiddleware):
    def __init__(self, burst: int, per_minute: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self.clock = clock
        self._buckets: dict[int, Bucket] = {}

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if self.per_second <= 0 or user is None or (message := await chat_text(event)) is None:
            return await handler(event, data)
        if self._take(user.id):
            return await handler(event, data)
        bucket = self._buckets[user.id]
        bucket.refused += 1
        if bucket.refused == 1:  # one notice per flood, naming where the refused messages start
            log.info("user %s is flooding: chat messages refused until the bucket refills", user.id)
            await notify(event, texts.FLOODED.format(quote=texts.shorten(message.text or "")))
        return None

    def _take(self, user_id: int) -> bool:
        """Spend a token of ``user_id``'s bucket if there is one."""
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= FORGET_AFTER_USERS:
                self._forget_full(now)
            bucket = self._buckets[user_id] = Bucket(tokens=self.burst, updated=now)
        bucket.refill(now, self.burst, self.per_second)
        if bucket.refused and bucket.tokens >= self.burst:  # quiet long enough to refill: the flood is over
            log.info("user %s: flood over, %d messages refused", user_id, bucket.refused)
            bucket.refused = 0
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_full(self, now: float) -> None:
        for user_id, bucket in list(self._buckets.items()):
            bucket.refill(now, self.burst, self.per_second)
            if bucket.tokens >= self.burst:  # the same as a new bucket
                del self._buckets[user_id]
