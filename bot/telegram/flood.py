"""Flood control: a token bucket per user over chat messages (this process's, or shared in Redis by every worker).

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
import math
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


@dataclass(frozen=True)
class Taken:
    """What spending one token said."""

    passed: bool
    refused: int = 0
    """Refused messages of the flood so far, this one included (0 if it passed)."""
    flood_over: int = 0
    """A flood just ended (the bucket refilled): how many messages it had refused."""


class MemoryBuckets:
    """This process's buckets."""

    def __init__(self, burst: int, per_second: float, clock=time.monotonic) -> None:
        self.burst, self.per_second, self.clock = burst, per_second, clock
        self._buckets: dict[int, Bucket] = {}

    async def take(self, user_id: int) -> Taken:
        """Spend a token of ``user_id``'s bucket if there is one."""
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= FORGET_AFTER_USERS:
                self._forget_full(now)
            bucket = self._buckets[user_id] = Bucket(tokens=self.burst, updated=now)
        bucket.refill(now, self.burst, self.per_second)
        flood_over = 0
        if bucket.refused and bucket.tokens >= self.burst:  # quiet long enough to refill: the flood is over
            flood_over, bucket.refused = bucket.refused, 0
        if bucket.tokens < 1:
            bucket.refused += 1
            return Taken(False, bucket.refused, flood_over)
        bucket.tokens -= 1
        return Taken(True, 0, flood_over)

    def _forget_full(self, now: float) -> None:
        for user_id, bucket in list(self._buckets.items()):
            bucket.refill(now, self.burst, self.per_second)
            if bucket.tokens >= self.burst:  # the same as a new bucket
                del self._buckets[user_id]


_TAKE = """
local burst, per_second, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or burst)
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or now)
local refused = tonumber(redis.call('HGET', KEYS[1], 'refused') or 0)
tokens = math.min(burst, tokens + (now - updated) * per_second)
local over = 0
if refused > 0 and tokens >= burst then over, refused = refused, 0 end
local passed = 0
if tokens >= 1 then tokens, passed = tokens - 1, 1 else refused = refused + 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now), 'refused', refused)
redis.call('EXPIRE', KEYS[1], ttl)
return {passed, passed == 1 and 0 or refused, over}
"""


class RedisBuckets:
    """The buckets in Redis (``REDIS_URL``): every worker spends from the same one, on Redis's clock. A bucket
    left alone until it would be full again is dropped by Redis (its expiry)."""

    def __init__(self, redis, burst: int, per_second: float, prefix: str) -> None:  # noqa: ANN001
        self.burst, self.per_second, self.prefix = burst, per_second, prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, user_id: int) -> Taken:
        refill_s = max(1, math.ceil(self.burst / self.per_second)) if self.per_second > 0 else 86_400
        passed, refused, over = await self._take(keys=[f"{self.prefix}:flood:{user_id}"],
                                                 args=[self.burst, self.per_second, refill_s])
        return Taken(bool(passed), int(refused), int(over))


class FloodControl(BaseMiddleware):
    def __init__(self, burst: int, per_minute: float, clock=time.monotonic, *, buckets=None) -> None:  # noqa: ANN001
        self.per_second = per_minute / 60
        self.buckets = buckets or MemoryBuckets(burst, self.per_second, clock)

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        if self.per_second <= 0 or user is None or (message := await chat_text(event)) is None:
            return await handler(event, data)
        taken = await self.buckets.take(user.id)
        if taken.flood_over:
            log.info("user %s: flood over, %d messages refused", user.id, taken.flood_over)
        if taken.passed:
            return await handler(event, data)
        if taken.refused == 1:  # one notice per flood, naming where the refused messages start
            log.info("user %s is flooding: chat messages refused until the bucket refills", user.id)
            await notify(event, texts.FLOODED.format(quote=texts.shorten(message.text or "")))
        return None
