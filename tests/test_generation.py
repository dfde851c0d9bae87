"""The generator on a real (tiny, random) model: batching, time-outs, errors, decoding strategies."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

from bot.config import DecodingSettings, Settings
from bot.generation import EmptyReply, GenerationError, GenerationTimeout, Generator, GeneratorClosed
from bot.generation import ModelLoadError, TransformersBackend, build_generator
from bot.generation.earlier_replies import repeats_earlier
from dialogue.format import FORMAT_FILE

PERSONA = ["Я люблю собак.", "Я работаю программистом."]
HISTORY = ["Привет! Как дела?", "Хорошо, спасибо. А у тебя?", "Чем ты занимаешься?"]
GREEDY = DecodingSettings(strategy="greedy", max_new_tokens=8)
BEAM = DecodingSettings(strategy="beam", max_new_tokens=8, num_beams=2)


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend.load(str(tiny_model_dir), torch_threads=1)


class Recording:
    """Wraps a real backend: records batch sizes, optionally sleeps or fails once."""

    def __init__(self, inner, *, sleep_s: float = 0.0, fail_once: bool = False, replies: list[str] | None = None):
        self.inner, self.sleep_s, self.fail_once, self.replies = inner, sleep_s, fail_once, replies
        self.model_id, self.format, self.tokenizer = inner.model_id, inner.format, inner.tokenizer
        self.batches: list[list[str]] = []

    def generate(self, inputs: list[str], decoding: DecodingSettings, earlier=None, *, persona=None,  # noqa: ANN001
                 keep_out=None, max_sentences=None, openings=None) -> list[str]:  # noqa: ANN001
        assert threading.current_thread() is not threading.main_thread()
        self.batches.append(inputs)
        self.earlier, self.persona, self.keep_out, self.max_sentences = earlier, persona, keep_out, max_sentences
        time.sleep(self.sleep_s)
        if self.fail_once:
            self.fail_once = False
            raise RuntimeError("boom in the model")
        return self.replies if self.replies is not None else self.inner.generate(inputs, decoding, earlier, persona=persona,
                                                                                    keep_out=keep_out,
                                                                                    max_sentences=max_sentences,
                                                                                    openings=openings)


async def test_single_reply(backend) -> None:
    async with Generator(backend, decoding=GREEDY) as generator:
        result = await generator.generate(PERSONA, HISTORY)
    assert isinstance(result.text, str) and result.text
    assert result.model_id == backend.model_id and result.model_id.startswith(Path(backend.model_id).name)
    assert result.decoding == GREEDY.describe()
    assert result.batch_size == 1 and result.latency_ms >= 0


async def test_concurrent_requests_share_one_batch(backend) -> None:
    recording = Recording(backend)
    async with Generator(recording, batch_max_size=8, batch_max_wait_ms=200, decoding=GREEDY) as generator:
        histories = [[f"Привет номер {i}", "Как дела?"] for i in range(6)]
        results = await asyncio.gather(*(generator.generate(PERSONA, h) for h in histories))
    assert [len(b) for b in recording.batches] == [6]
    assert all(r.batch_size == 6 and r.text for r in results)
    # Each caller gets the reply to its own input: the same as generating it alone.
    alone = backend.generate(recording.batches[0][2:3], GREEDY)
    assert results[2].text == alone[0]


async def test_different_decoding_settings_split_batches(backend) -> None:
    recording = Recording(backend)
    async with Generator(recording, batch_max_size=8, batch_max_wait_ms=200) as generator:
        settings = [GREEDY, BEAM, GREEDY, BEAM, GREEDY]
        results = await asyncio.gather(*(generator.generate(PERSONA, HISTORY, decoding=d) for d in settings))
    assert sorted(len(b) for b in recording.batches) == [2, 3]
    assert [r.decoding["strategy"] for r in results] == ["greedy", "beam", "greedy", "beam", "greedy"]
    assert [r.batch_size for r in results] == [3, 2, 3, 2, 3]


async def test_batch_max_size_is_respected(backend) -> None:
    recording = Recording(backend, replies=["ok", "ok"])
    async with Generator(recording, batch_max_size=2, batch_max_wait_ms=200, decoding=GREEDY) as generator:
        await asyncio.gather(*(generator.generate(PERSONA, HISTORY) for _ in range(4)))
    assert [len(b) for b in recording.batches] == [2, 2]


async def test_event_loop_keeps_ticking_during_generation(backend) -> None:
    ticks: list[float] = []  # a 10 ms ticker on the loop, while the worker generates 400 tokens

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    long = DecodingSettings(strategy="greedy", max_new_tokens=400, no_repeat_ngram_size=0)
    async with Generator(backend, decoding=long) as generator:
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.03)
        started = time.perf_counter()
        await generator.generate(PERSONA, HISTORY)
        duration = time.perf_counter() - started
        task.cancel()
    during = [t for t in ticks if started <= t <= started + duration]
    # Were generation on the event loop, no tick could land inside it. No bound on the gaps:
    # on a loaded 2-core machine the OS may pause the loop thread for a while.
    assert len(during) >= 5, (len(during), duration)


async def test_timeout_raises_generation_timeout(backend) -> None:
    async with Generator(Recording(backend, sleep_s=1.0), timeout_s=0.2, decoding=GREEDY) as generator:
        with pytest.raises(GenerationTimeout):
            await generator.generate(PERSONA, HISTORY)


async def test_backend_error_reaches_every_caller_and_worker_survives(backend) -> None:
    recording = Recording(backend, fail_once=True)
    async with Generator(recording, batch_max_wait_ms=100, decoding=GREEDY) as generator:
        calls = [generator.generate(PERSONA, HISTORY) for _ in range(2)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(o, GenerationError) and "boom in the model" in str(o) for o in outcomes)
        assert (await generator.generate(PERSONA, HISTORY)).text


async def test_empty_model_output_raises_empty_reply(backend) -> None:
    async with Generator(Recording(backend, replies=["   "]), decoding=GREEDY) as generator:
        with pytest.raises(EmptyReply):
            await generator.generate(PERSONA, HISTORY)


async def test_close_fails_waiting_requests_and_refuses_new_ones(backend) -> None:
    generator = Generator(Recording(backend, sleep_s=0.5), batch_max_size=1, batch_max_wait_ms=0)
    await generator.start()
    waiting = [asyncio.create_task(generator.generate(PERSONA, HISTORY, decoding=GREEDY)) for _ in range(3)]
    await asyncio.sleep(0.05)
    await generator.close(grace_s=0)
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, GeneratorClosed) for o in outcomes)
    with pytest.raises(GeneratorClosed):
        await generator.generate(PERSONA, HISTORY)


def test_greedy_is_deterministic(backend) -> None:
    prompt = backend.format.build_input(PERSONA, HISTORY)
    assert backend.generate([prompt], GREEDY) == backend.generate([prompt], GREEDY)


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sampling", "contrastive"])
@pytest.mark.parametrize("causal", [False, True])
def test_each_decoding_strategy_runs(strategy, causal, tiny_model_dir, tiny_causal_model_dir) -> None:
    backend = TransformersBackend.load(str(tiny_causal_model_dir if causal else tiny_model_dir), torch_threads=1)
    decoding = DecodingSettings(strategy=strategy, max_new_tokens=6, num_beams=2, top_k=4, contrastive_top_k=4)
    prompts = [backend.format.build_input(PERSONA, HISTORY), backend.format.build_input([], ["Привет"])]
    replies = backend.generate(prompts, decoding)
    assert len(replies) == 2 and all(isinstance(r, str) and r for r in replies)


def test_contrastive_without_penalty_is_greedy(tiny_causal_model_dir) -> None:
    backend = TransformersBackend.load(str(tiny_causal_model_dir), torch_threads=1)
    plain = dict(max_new_tokens=8, contrastive_top_k=4, no_repeat_ngram_size=0, repetition_penalty=1.0)
    prompt = [backend.format.build_input(PERSONA, HISTORY)]
    greedy = backend.generate(prompt, DecodingSettings(strategy="greedy", **plain))
    assert backend.generate(prompt, DecodingSettings(strategy="contrastive", penalty_alpha=0.0, **plain)) == greedy
    assert backend.generate(prompt, DecodingSettings(strategy="contrastive", penalty_alpha=0.9, **plain)) != greedy


def test_contrastive_search_passes_transformers_no_ignored_flag(backend) -> None:
    # transformers warns once per process about generation flags the decoding mode ignores.
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    library_logger = logging.getLogger("transformers")  # its own handler, no propagation to pytest's
    library_logger.addHandler(handler)
    logging.Logger.warning_once.cache_clear()  # transformers' lru-cached "warn once"
    try:
        backend.generate([backend.format.build_input(PERSONA, HISTORY)], DecodingSettings(strategy="contrastive"))
    finally:
        library_logger.removeHandler(handler)
    assert not [r for r in records if "generation flags are not valid" in r.getMessage()]


def test_causal_model_does_not_echo_the_prompt(tiny_causal_model_dir) -> None:
    backend = TransformersBackend.load(str(tiny_causal_model_dir), torch_threads=1)
    prompt = backend.format.build_input(PERSONA, HISTORY)
    [reply] = backend.generate([prompt], GREEDY)
    assert reply and not reply.startswith("[PERSONA]") and "Я люблю собак" not in reply
    assert backend.tokenizer.padding_side == "left"


def test_missing_directory_is_a_load_error(tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match=f"{missing} does not exist"):
        TransformersBackend.load(str(missing))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / FORMAT_FILE).unlink(), FORMAT_FILE),
        (lambda d: (d / "config.json").unlink(), "config.json"),
        (lambda d: (d / "model.safetensors").write_bytes(b"garbage"), "failed to load"),
    ],
    ids=["no-format-file", "no-config", "garbage-weights"],
)
def test_broken_model_directory_is_a_load_error(tiny_model_dir, tmp_path, damage, expected) -> None:
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    damage(model_dir)
    with pytest.raises(ModelLoadError, match=expected) as err:
        TransformersBackend.load(str(model_dir))
    assert str(model_dir) in str(err.value)


async def test_build_generator_from_settings(tiny_model_dir) -> None:
    settings = Settings(model_path=str(tiny_model_dir), torch_threads=1, decoding=GREEDY, batch_max_wait_ms=0)
    async with build_generator(settings) as generator:
        assert (await generator.generate(PERSONA, HISTORY)).text


async def test_no_wait_still_batches_what_queued_meanwhile(backend) -> None:
    # BATCH_MAX_WAIT_MS=0: the first request runs at once; the ones that arrive during it go together.
    recording = Recording(backend, sleep_s=0.3)
    async with Generator(recording, batch_max_size=8, batch_max_wait_ms=0, decoding=GREEDY) as generator:
        first = asyncio.create_task(generator.generate(PERSONA, HISTORY))
        await asyncio.sleep(0.1)
        results = await asyncio.gather(first, *(generator.generate(PERSONA, [f"Вопрос {i}"]) for i in range(4)))
    assert [len(b) for b in recording.batches] == [1, 4]
    assert [r.batch_size for r in results] == [1, 4, 4, 4, 4]


def test_causal_repetition_controls_see_the_reply_only() -> None:
    """n-gram blocking and the repetition penalty must not forbid repeating the prompt (the persona)."""
    import torch
    from transformers import NoRepeatNGramLogitsProcessor

    from bot.generation.reply_only import OnReply, reply_only

    prompt = torch.tensor([[5, 6, 7, 5, 6]])  # a 3-gram "5 6 7" in the prompt; the prompt ends with "5 6"
    scores = torch.zeros(1, 10)
    assert NoRepeatNGramLogitsProcessor(3)(prompt, scores.clone())[0, 7] == float("-inf")  # transformers' own
    assert OnReply(NoRepeatNGramLogitsProcessor(3), prompt_length=5)(prompt, scores.clone())[0, 7] == 0
    generated = torch.cat([prompt, torch.tensor([[1, 2, 1]])], dim=1)  # the reply "1 2 1": "2" may not follow "1"
    assert OnReply(NoRepeatNGramLogitsProcessor(2), prompt_length=5)(generated, scores.clone())[0, 2] == float("-inf")
    kwargs = reply_only({"no_repeat_ngram_size": 3, "repetition_penalty": 1.2, "max_new_tokens": 8}, 5)
    assert kwargs["max_new_tokens"] == 8 and "no_repeat_ngram_size" not in kwargs and len(kwargs["logits_processor"]) == 2
    assert reply_only({"no_repeat_ngram_size": 0, "repetition_penalty": 1.0}, 5) == {}


def test_the_end_is_forbidden_only_where_it_is_unlikely() -> None:
    """EndOnlyWhenLikely: the end tokens (EOS and a line break) count together against the threshold."""
    import math

    import torch

    from bot.generation.rules import EndOnlyWhenLikely, RulesProcessor

    # Row 0: the end (ids 0 and 1) has 0.2 + 0.2 = 0.4; row 1: 0.3 + 0.3 = 0.6. The rest is token 2.
    probs = torch.tensor([[0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    scores = torch.log(probs)

    def processed(probability: float) -> torch.Tensor:
        processor = RulesProcessor([EndOnlyWhenLikely([0, 1], probability)], requests=2, reply_start=1, end_ids=[0, 1])
        return processor(torch.zeros(2, 4, dtype=torch.long), scores.clone())

    assert processed(0.5)[0, :2].tolist() == [-math.inf, -math.inf] and processed(0.5)[0, 2] == scores[0, 2]
    assert torch.equal(processed(0.5)[1], scores[1])  # likely enough: untouched
    # Each end token alone (0.3) is under the threshold; counted together they are not.
    assert torch.equal(processed(0.55)[1], scores[1])


@pytest.mark.parametrize("causal", [False, True])
def test_a_persona_fact_said_before_may_open_a_reply_again_but_not_make_the_same_reply(
        tiny_model_dir, tiny_causal_model_dir, causal) -> None:
    """The bot said R before and R's opening is a persona fact: the reply may open with the fact again, but
    without the fact even R's opening is banned; and told that R itself is a fact, the reply is still not R."""
    from training.evaluation.predict import GREEDY

    backend = TransformersBackend.load(str(tiny_causal_model_dir if causal else tiny_model_dir))
    text = backend.format.build_input(["Я люблю читать."], ["Привет! Как дела?"])
    [first] = backend.generate([text], GREEDY)
    fact = " ".join(first.split()[:2])
    [banned] = backend.generate([text], GREEDY, [[first]])
    [free] = backend.generate([text], GREEDY, [[first]], persona=[[fact]])
    assert free.startswith(fact) and not banned.startswith(fact)
    assert not repeats_earlier(free, [first])
    [whole] = backend.generate([text], GREEDY, [[first]], persona=[[first]])
    assert not repeats_earlier(whole, [first])


def test_own_turns_are_every_other_turn_back_from_the_last_but_one() -> None:
    from dialogue import own_turns

    assert own_turns(["u1", "b1", "u2", "b2", "u3"]) == ["b1", "b2"]
    assert own_turns(["b0", "u1", "b1", "u2"]) == ["b0", "b1"]
    assert own_turns(["u1"]) == []


@pytest.mark.parametrize("causal", [False, True])
def test_a_reply_never_repeats_an_earlier_reply_of_the_bot(tiny_model_dir, tiny_causal_model_dir, causal) -> None:
    """Greedy gives reply R; told that the bot already said R, the same request gets another reply, while
    another request of the same batch, with nothing said before, still gets R."""
    from training.evaluation.predict import GREEDY

    backend = TransformersBackend.load(str(tiny_causal_model_dir if causal else tiny_model_dir))
    text = backend.format.build_input(["Я люблю читать."], ["Привет! Как дела?"])
    [first] = backend.generate([text], GREEDY)
    assert first
    again, fresh = backend.generate([text, text], GREEDY, [[first], []])
    assert " ".join(again.lower().split()) != " ".join(first.lower().split())
    assert fresh == first


async def test_the_generator_hands_the_bots_earlier_replies_to_the_backend(backend) -> None:
    recording = Recording(backend)
    history = ["Привет!", "Привет, я Аня.", "Чем занимаешься?", "Читаю книги.", "А ещё?"]
    async with Generator(recording, decoding=GREEDY) as generator:
        await generator.generate(PERSONA, history)
    assert recording.earlier == [["Привет, я Аня.", "Читаю книги."]]
    assert recording.persona == [tuple(PERSONA)]
