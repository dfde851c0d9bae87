"""Driving a path: closed-loop asyncio clients, or fixed batches for the raw engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.bench.prompts import Prompt

Serve = Callable[[Prompt], Awaitable[str]]


async def closed_loop(serve: Serve, prompts: Sequence[Prompt], concurrency: int) -> tuple[list[float], float, list[str]]:
    """``concurrency`` clients, each sending its next request as soon as its reply arrives.

    Returns per-request latencies (ms), the wall time (s) and the replies in prompt order.
    """
    replies: list[str] = [""] * len(prompts)
    latencies: list[float] = []
    next_index = iter(range(len(prompts)))

    async def client() -> None:
        for index in next_index:  # a shared iterator: each prompt is sent once
            started = time.perf_counter()
            replies[index] = await serve(prompts[index])
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, replies


def fixed_batches(
    run_batch: Callable[[list[Prompt]], list[str]], prompts: Sequence[Prompt], batch_size: int
) -> tuple[list[float], float, list[str]]:
    """The raw engine: consecutive batches of ``batch_size``; each request waits for its whole batch."""
    replies: list[str] = []
    latencies: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start : start + batch_size])
        batch_started = time.perf_counter()
        replies += run_batch(batch)
        latencies += [(time.perf_counter() - batch_started) * 1000] * len(batch)
    return latencies, time.perf_counter() - started, replies
