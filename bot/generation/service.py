"""The in-process generator: an asyncio front, one worker thread, micro-batching.

Requests queue up; the batcher task takes the oldest one plus up to ``batch_max_size - 1``
more with the *same* decoding settings that are already queued or arrive within
``batch_max_wait_ms`` (0: no waiting, so a lone request starts at once and requests that
arrive meanwhile form the next batch), and runs the batch on the single worker thread.
The event loop only ever awaits futures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from bot.config import DecodingSettings, SelectionSettings
from bot.generation.backends import Backend
from bot.generation.errors import EmptyReply, GenerationError, GenerationTimeout, GeneratorClosed
from bot.generation.selection import Candidate, candidate_decoding, select_replies
from bot.generation.turns import Turn, compose

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationResult:
    """A reply and what is stored with it."""

    text: str
    model_id: str
    decoding: dict[str, object]
    latency_ms: int
    """From the request to the reply, queueing included."""
    batch_size: int
    """How many requests were generated together with this one."""
    candidates: tuple[Candidate, ...] = ()
    """With reply selection: every candidate, best (``text``) first."""


@dataclass
class _Request:
    turn: Turn
    decoding: DecodingSettings
    future: asyncio.Future[GenerationResult]
    started: float = field(default_factory=time.monotonic)


# Without a limit in the format, still read no more than this many messages from the database.
UNLIMITED_HISTORY = 100
# A reply may not repeat the bot's earlier replies of this many last messages (10 exchanges), further back
# than the model reads: with only the model's window (4 messages for the Gemma model: 2 own replies) the bot
# said «Я люблю ездить на дачу» again four turns later. The format still gives the model its last N turns.
EARLIER_REPLIES_WINDOW = 20


class Generator:
    """Serves replies from one backend. ``await start()`` before use, ``await close()`` at the end."""

    def __init__(
        self,
        backend: Backend,
        *,
        batch_max_size: int = 8,
        batch_max_wait_ms: int = 0,
        timeout_s: float = 60.0,
        decoding: DecodingSettings | None = None,
        selection: SelectionSettings | None = None,
    ) -> None:
        if batch_max_size < 1 or batch_max_wait_ms < 0 or timeout_s <= 0:
            raise ValueError("batch_max_size must be >= 1, batch_max_wait_ms >= 0 and timeout_s > 0")
        self.backend = backend
        self.default_decoding = decoding or DecodingSettings()
        self.selection = selection or SelectionSettings()
        self._max_size, self._max_wait_s, self._timeout_s = batch_max_size, batch_max_wait_ms / 1000, timeout_s
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._held: deque[_Request] = deque()  # taken from the queue, waiting for a batch of their decoding
        self._inflight: set[asyncio.Future[GenerationResult]] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._batcher: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def history_limit(self) -> int:
        """How many past messages a reply uses: the model's input (the format keeps its last N) and, further
        back, the bot's own earlier replies that the reply may not repeat."""
        return max(self.backend.format.max_history_turns or UNLIMITED_HISTORY, EARLIER_REPLIES_WINDOW)

    async def start(self) -> None:
        if self._batcher is not None or self._closed:
            raise RuntimeError("Generator.start() may be called once, before close()")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generator")
        self._batcher = asyncio.create_task(self._run(), name="generator-batcher")

    async def generate(
        self, persona: Sequence[str], history: Sequence[str], *, partner: Sequence[str] = (),
        decoding: DecodingSettings | None = None,
    ) -> GenerationResult:
        """The reply to ``history`` (oldest first) in the voice of ``persona``; ``partner``: what the bot knows
        of the user (their facts, newest last).

        Raises ``GenerationTimeout``, ``EmptyReply``, ``GeneratorClosed`` or ``GenerationError``.
        """
        if self._batcher is None or self._closed:
            raise GeneratorClosed("the generator is not running")
        future: asyncio.Future[GenerationResult] = asyncio.get_running_loop().create_future()
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        turn = Turn(tuple(persona), tuple(history), tuple(partner))
        self._queue.put_nowait(_Request(turn, decoding or self.default_decoding, future))
        try:
            async with asyncio.timeout(self._timeout_s):
                return await future
        except TimeoutError:
            raise GenerationTimeout(f"no reply within {self._timeout_s:g} s") from None

    async def close(self, grace_s: float = 20.0) -> None:
        """Stop taking requests, let queued ones finish for up to ``grace_s``, fail the rest."""
        self._closed = True
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=grace_s)
        for future in list(self._inflight):
            if not future.done():
                future.set_exception(GeneratorClosed("the generator shut down before this reply was ready"))
        if self._batcher is not None:
            self._batcher.cancel()
            await asyncio.gather(self._batcher, return_exceptions=True)
        if self._executor is not None:
            # A running generate() cannot be interrupted; the thread exits when it returns.
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> Generator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- the batcher task ---------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            batch = [r for r in batch if not r.future.done()]  # callers that timed out are gone
            if batch:
                await self._serve(batch)

    async def _next_batch(self) -> list[_Request]:
        first = self._held.popleft() if self._held else await self._queue.get()
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self._max_wait_s
        while True:
            while not self._queue.empty():  # already waiting: no need to wait for them (BATCH_MAX_WAIT_MS=0 too)
                self._held.append(self._queue.get_nowait())
            for request in [r for r in self._held if r.decoding == first.decoding]:
                if len(batch) == self._max_size:
                    return batch
                self._held.remove(request)
                batch.append(request)
            remaining = deadline - asyncio.get_running_loop().time()
            if len(batch) == self._max_size or remaining <= 0:
                return batch
            try:
                async with asyncio.timeout(remaining):
                    self._held.append(await self._queue.get())
            except TimeoutError:
                return batch

    async def _serve(self, batch: list[_Request]) -> None:
        decoding = batch[0].decoding
        loop = asyncio.get_running_loop()
        try:
            replies = await loop.run_in_executor(self._executor, self._generate_batch, batch, decoding)
        except Exception as exc:
            log.exception("generation failed for a batch of %d", len(batch))
            for request in batch:
                _settle(request.future, exc=GenerationError(f"generation failed: {type(exc).__name__}: {exc}"))
            return
        described = self._describe(decoding)
        for request, (text, candidates) in zip(batch, replies, strict=True):
            if not text:
                _settle(request.future, exc=EmptyReply("the model produced an empty reply"))
                continue
            latency_ms = round((time.monotonic() - request.started) * 1000)
            result = GenerationResult(text, self.backend.model_id, described, latency_ms, len(batch), candidates)
            _settle(request.future, result=result)

    def _describe(self, decoding: DecodingSettings) -> dict[str, object]:
        """What is stored with each reply: the decoding actually used, and the selection settings."""
        if not self.selection.enabled:
            return decoding.describe()
        return {**candidate_decoding(decoding, self.selection.candidates).describe(), "selection": asdict(self.selection)}

    def _generate_batch(self, batch: list[_Request], decoding: DecodingSettings) -> list[tuple[str, tuple[Candidate, ...]]]:
        """Runs on the worker thread. Inputs are built here too: a fast tokenizer must not be
        used from two threads at once ("Already borrowed")."""
        turns = [r.turn for r in batch]
        if self.selection.enabled:
            ranked = select_replies(self.backend, turns, decoding, self.selection)
            return [(candidates[0].text if candidates else "", tuple(candidates)) for candidates in ranked]
        return [(text, ()) for text in compose(self.backend, turns, decoding)]


def _settle(
    future: asyncio.Future[GenerationResult], *, result: GenerationResult | None = None, exc: Exception | None = None
) -> None:
    if future.done():  # timed out or failed by close() meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
