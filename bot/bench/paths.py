"""The ways of serving replies that the benchmark compares, each measured in a fresh process."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from bot.bench.load import closed_loop, fixed_batches
from bot.bench.prompts import PROMPT_PAIRS, Prompt, prompts
from bot.bench.results import LevelResult, PathResult
from bot.config import DecodingSettings, SelectionSettings
from dialogue.format import tokenizer_truncator


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run: the checkpoint, the load and the serving settings every path shares."""

    model_dir: Path
    requests: int = 64
    """Requests per concurrency level (after a short warm-up)."""
    concurrency: tuple[int, ...] = (1, 8, 32)
    threads: int = 2
    """torch intra-op threads and CTranslate2 intra_threads."""
    max_new_tokens: int = 32
    batch_max_size: int = 32
    batch_max_wait_ms: int = 20
    selection: SelectionSettings = SelectionSettings(candidates=4)
    """How the "selection" paths select: the bot's ``RERANK_*`` settings, with the candidates the command names."""
    decoding_settings: DecodingSettings = DecodingSettings(strategy="greedy")
    """How every path decodes (``max_new_tokens`` above wins): greedy, so that figures compare across runs, or
    the bot's configured decoding (``--decoding bot``)."""
    workers: int = 1
    """Processes serving side by side, each with its own model and ``threads`` threads (the bot's workers on one
    machine); a level's concurrent clients and requests are shared out among them."""

    def __post_init__(self) -> None:
        if min(self.requests, self.threads, self.max_new_tokens, self.batch_max_size, self.workers) < 1:
            raise ValueError("requests, threads, max_new_tokens, batch_max_size and workers must be >= 1")
        if not self.concurrency or min(self.concurrency) < 1:
            raise ValueError("concurrency levels must be positive integers")
        if any(c % self.workers for c in self.concurrency) or self.requests % self.workers:
            raise ValueError(f"concurrency levels and requests must be multiples of the {self.workers} workers")
        if not self.selection.enabled:
            raise ValueError("the selection paths need at least 1 candidate")

    @property
    def decoding(self) -> DecodingSettings:
        return replace(self.decoding_settings, max_new_tokens=self.max_new_tokens)


_level_barrier = None
"""In a bench worker process: the barrier every worker of a run passes before each level, so that the levels of
side-by-side workers overlap (``measure``)."""


def _level_start() -> None:
    if _level_barrier is not None:
        _level_barrier.wait()


async def _serve_levels(serve: Callable[[Prompt], Awaitable[str]], tokenizer, config: BenchConfig) -> dict:
    # Warm-up with every distinct prompt once: kernels are prepared per input shape on first use.
    await closed_loop(serve, prompts(len(PROMPT_PAIRS)), 1)
    levels = {}
    for concurrency in config.concurrency:
        _level_start()
        latencies, seconds, replies = await closed_loop(serve, prompts(config.requests), concurrency)
        levels[concurrency] = LevelResult(concurrency, tuple(latencies), seconds, _count_tokens(tokenizer, replies))
    return levels


def _count_tokens(tokenizer, replies: list[str]) -> int:
    # After the level: the worker thread may be using the (not thread-safe) fast tokenizer during it.
    return sum(len(ids) for ids in tokenizer(replies, add_special_tokens=False)["input_ids"])


async def _naive(config: BenchConfig) -> dict:
    """The original project: one fp32 ``model.generate`` per request, one request at a time."""
    from bot.generation import TransformersBackend

    backend = TransformersBackend.load(str(config.model_dir))
    truncate = tokenizer_truncator(backend.tokenizer)
    worker = ThreadPoolExecutor(max_workers=1)

    def reply(prompt: Prompt) -> str:
        text = backend.format.build_input(prompt.persona, prompt.history, truncate=truncate)
        return backend.generate([text], config.decoding)[0]

    loop = asyncio.get_running_loop()
    return await _serve_levels(lambda p: loop.run_in_executor(worker, reply, p), backend.tokenizer, config)


async def _through_generator(backend, config: BenchConfig, *, selection: bool = False) -> dict:
    from bot.generation import Generator

    generator = Generator(
        backend, batch_max_size=config.batch_max_size, batch_max_wait_ms=config.batch_max_wait_ms,
        timeout_s=3600, decoding=config.decoding,
        selection=config.selection if selection else None,
    )  # fmt: skip

    async def serve(prompt: Prompt) -> str:
        return (await generator.generate(prompt.persona, prompt.history)).text

    async with generator:
        return await _serve_levels(serve, backend.tokenizer, config)


async def _batched(config: BenchConfig) -> dict:
    from bot.generation import TransformersBackend

    return await _through_generator(TransformersBackend.load(str(config.model_dir)), config)


async def _torch_int8(config: BenchConfig) -> dict:
    import torch

    from bot.generation import TransformersBackend

    backend = TransformersBackend.load(str(config.model_dir))
    model = torch.ao.quantization.quantize_dynamic(backend.model, {torch.nn.Linear}, dtype=torch.qint8)
    return await _through_generator(replace(backend, model=model, model_id=f"{backend.model_id}+qint8"), config)


async def _selection(config: BenchConfig) -> dict:
    from bot.generation import TransformersBackend

    return await _through_generator(TransformersBackend.load(str(config.model_dir)), config, selection=True)


def _load_ct2(config: BenchConfig):
    from bot.generation.ctranslate2_backend import CTranslate2Backend

    return CTranslate2Backend.load(str(config.model_dir), threads=config.threads)


async def _ct2_serving(config: BenchConfig) -> dict:
    return await _through_generator(_load_ct2(config), config)


async def _ct2_selection(config: BenchConfig) -> dict:
    return await _through_generator(_load_ct2(config), config, selection=True)


async def _ct2_raw(config: BenchConfig) -> dict:
    """``translate_batch`` on pre-tokenised inputs, in the batches the Generator would form."""
    from bot.generation.ctranslate2_backend import decoding_options
    from bot.generation.rules import decoding_rules, requests_for

    backend = _load_ct2(config)
    tokenizer, options = backend.tokenizer, decoding_options(backend, config.decoding)
    truncate = tokenizer_truncator(tokenizer)

    def tokens(prompt: Prompt) -> list[str]:
        text = backend.format.build_input(prompt.persona, prompt.history, truncate=truncate)
        ids = tokenizer(text, truncation=True, max_length=backend.format.max_source_tokens)["input_ids"]
        return tokenizer.convert_ids_to_tokens(ids)

    pretokenised = {p: tokens(p) for p in PROMPT_PAIRS}

    def run_batch(batch: list[Prompt]) -> list[str]:
        rules = decoding_rules(requests_for(backend, config.decoding, len(batch)))  # the end threshold, if greedy has one
        results = backend.run_tokens([pretokenised[p] for p in batch], options, rules)
        return [tokenizer.decode(tokenizer.convert_tokens_to_ids(r), skip_special_tokens=True) for r in results]

    fixed_batches(run_batch, prompts(len(PROMPT_PAIRS)), 1)  # warm-up, as in _serve_levels
    levels = {}
    for concurrency in config.concurrency:
        _level_start()
        size = min(concurrency, config.batch_max_size)
        latencies, seconds, outputs = fixed_batches(run_batch, prompts(config.requests), size)
        levels[concurrency] = LevelResult(concurrency, tuple(latencies), seconds, _count_tokens(tokenizer, outputs))
    return levels


PATHS: dict[str, tuple[str, Callable[[BenchConfig], Awaitable[dict]]]] = {
    "naive": ("naive: model.generate per request, fp32", _naive),
    "batched": ("Generator + transformers fp32", _batched),
    "torch_int8": ("Generator + torch dynamic int8", _torch_int8),
    "ct2_raw": ("CTranslate2 int8, raw engine call", _ct2_raw),
    "ct2": ("Generator + CTranslate2 int8", _ct2_serving),
    "selection": ("Generator + selection, transformers fp32", _selection),
    "ct2_selection": ("Generator + selection, CTranslate2 int8", _ct2_selection),
}
"""Path name -> (label for the table, the coroutine measuring it)."""


def _measure_here(name: str, config: BenchConfig, barrier=None) -> PathResult:  # noqa: ANN001
    import torch

    global _level_barrier
    _level_barrier = barrier
    torch.set_num_threads(config.threads)
    label, run = PATHS[name]
    levels = asyncio.run(run(config))
    return PathResult(name, label, levels, _peak_rss_mb())


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a spawned child would
    # report its parent's peak if that was higher.
    try:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(name: str, config: BenchConfig) -> PathResult:
    """Measure one path in fresh processes (``config.workers`` side by side): their own peak memory, nothing left
    over from the others. Side-by-side workers are one result: a level's replies of every worker over the longest
    worker's time, their peak memory summed."""
    context = multiprocessing.get_context("spawn")
    if config.workers == 1:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return pool.submit(_measure_here, name, config).result()
    share = replace(config, requests=config.requests // config.workers,
                    concurrency=tuple(c // config.workers for c in config.concurrency), workers=1)
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=config.workers, mp_context=context) as pool:
        barrier = manager.Barrier(config.workers)
        parts = [f.result() for f in [pool.submit(_measure_here, name, share, barrier) for _ in range(config.workers)]]
    levels = {}
    for total, own in zip(config.concurrency, share.concurrency):
        each = [part.levels[own] for part in parts]
        levels[total] = LevelResult(total, tuple(ms for level in each for ms in level.latencies_ms),
                                    max(level.seconds for level in each), sum(level.tokens for level in each))
    label = f"{parts[0].label}, {config.workers} workers x {config.threads} threads"
    return PathResult(name, label, levels, sum(part.peak_rss_mb for part in parts))
