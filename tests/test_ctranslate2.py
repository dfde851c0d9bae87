"""The CTranslate2 backend on the tiny T5: conversion cache, equality with transformers, serving."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

import torch  # noqa: E402

from bot.config import DecodingSettings, Settings  # noqa: E402
from bot.generation import Generator, ModelLoadError, TransformersBackend, build_generator  # noqa: E402
from bot.generation import ctranslate2_backend as ct2  # noqa: E402
from bot.generation import rules  # noqa: E402
from bot.generation.ctranslate2_backend import CTranslate2Backend  # noqa: E402
from bot.generation.earlier_replies import repeats_earlier  # noqa: E402
from dialogue.format import tokenizer_truncator, words_only  # noqa: E402

PERSONA = ["Я люблю собак.", "Я работаю программистом."]
HISTORIES = [
    ["Привет! Как дела?"],
    ["Чем ты занимаешься по выходным?", "Играю в футбол.", "А ты?"],
    ["Какая у тебя любимая еда?", "Пицца и борщ."],
    ["Давай познакомимся, меня зовут Аня."],
]
GREEDY = DecodingSettings(strategy="greedy", max_new_tokens=10, min_new_tokens=1, min_end_probability=0.0)  # plain greedy


@pytest.fixture
def gemma_adapter_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CausalLM adapter directory over a tiny Gemma 3 base, prepared in a private cache."""
    from tests.tiny_gemma import build_tiny_adapter_dir, build_tiny_gemma_base

    monkeypatch.setenv("PERSONA_BOT_CACHE", str(tmp_path / "cache"))
    return build_tiny_adapter_dir(build_tiny_gemma_base(tmp_path / "cache"), tmp_path / "adapters",
                                  kept_tokens=set(range(250)))


def _inputs(backend) -> list[str]:
    truncate = tokenizer_truncator(backend.tokenizer)
    return [backend.format.build_input(PERSONA, h, truncate=truncate) for h in HISTORIES]


def test_greedy_matches_transformers(tiny_model_copy: Path) -> None:
    reference = TransformersBackend.load(str(tiny_model_copy), torch_threads=1)
    fast = CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1)
    inputs = _inputs(reference)
    expected = reference.generate(inputs, GREEDY)
    assert all(expected)
    assert fast.generate(inputs, GREEDY) == expected
    # Batching must not change a reply: one at a time gives the same texts.
    assert [fast.generate([text], GREEDY)[0] for text in inputs] == expected
    assert fast.model_id == f"{reference.model_id}+ct2-float32"
    assert (tiny_model_copy / "ctranslate2-float32" / ct2.STAMP_FILE).is_file()


def test_int8_runs_every_supported_strategy(tiny_model_copy: Path) -> None:
    backend = CTranslate2Backend.load(str(tiny_model_copy), threads=1)
    assert backend.compute_type == "int8" and backend.model_id.endswith("+ct2-int8")
    inputs = _inputs(backend)
    for decoding in (GREEDY, replace(GREEDY, strategy="beam", num_beams=3), replace(GREEDY, strategy="sampling")):
        replies = backend.generate(inputs, decoding)
        assert len(replies) == len(inputs) and all(isinstance(r, str) and r for r in replies)


def test_cache_is_reused_and_redone_when_weights_change(tiny_model_copy: Path) -> None:
    first = CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1)
    weights = tiny_model_copy / "ctranslate2-float32" / "model.bin"
    before = weights.stat()
    second = CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1)
    assert weights.stat().st_mtime_ns == before.st_mtime_ns and weights.stat().st_ino == before.st_ino
    assert second.model_id == first.model_id

    # New weights in the same directory (as after retraining): converted again, new replies.
    model = TransformersBackend.load(str(tiny_model_copy)).model
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
    model.save_pretrained(tiny_model_copy, safe_serialization=True)
    reference = TransformersBackend.load(str(tiny_model_copy), torch_threads=1)
    third = CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1)
    assert third.model_id != first.model_id and third.model_id.startswith(reference.model_id)
    assert weights.stat().st_ino != before.st_ino
    inputs = _inputs(reference)
    assert third.generate(inputs, GREEDY) == reference.generate(inputs, GREEDY)


def test_read_only_model_dir_caches_elsewhere(tiny_model_copy: Path, tmp_path: Path, monkeypatch) -> None:
    # Tests may run as root, where chmod does not stop writes: ask the OS question the backend asks.
    monkeypatch.setattr(ct2.os, "access", lambda path, mode: Path(path) != tiny_model_copy)
    monkeypatch.setenv(ct2.CACHE_ENV, str(tmp_path / "cache"))
    backend = CTranslate2Backend.load(str(tiny_model_copy), threads=1)
    assert not list(tiny_model_copy.glob("ctranslate2-*"))
    [cached] = (tmp_path / "cache").iterdir()
    assert cached.name.endswith("-int8") and (cached / "model.bin").is_file()
    assert backend.generate(_inputs(backend)[:1], GREEDY)[0]


async def test_generator_micro_batches_through_ctranslate2(tiny_model_copy: Path) -> None:
    backend = CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1)
    async with Generator(backend, batch_max_size=8, batch_max_wait_ms=300, decoding=GREEDY) as generator:
        results = await asyncio.gather(*(generator.generate(PERSONA, h) for h in HISTORIES))
    assert [r.batch_size for r in results] == [len(HISTORIES)] * len(HISTORIES)
    assert [r.text for r in results] == backend.generate(_inputs(backend), GREEDY)
    assert {r.model_id for r in results} == {backend.model_id}


async def test_settings_choose_the_backend(tiny_model_copy: Path) -> None:
    settings = Settings(model_path=str(tiny_model_copy), model_backend="ctranslate2", torch_threads=1, decoding=GREEDY)
    async with build_generator(settings) as generator:
        result = await generator.generate(PERSONA, HISTORIES[0])
    assert result.text and result.model_id.endswith("+ct2-int8")
    async with build_generator(settings.model_copy(update={"ct2_compute_type": "float32"})) as generator:  # CT2_COMPUTE_TYPE
        result = await generator.generate(PERSONA, HISTORIES[0])
    assert result.text and result.model_id.endswith("+ct2-float32") and (tiny_model_copy / "ctranslate2-float32").is_dir()


def test_unsupported_requests_are_clear_errors(tiny_model_copy: Path, tiny_causal_model_dir: Path) -> None:
    contrastive = replace(GREEDY, strategy="contrastive")
    with pytest.raises(ModelLoadError, match="contrastive is not available with MODEL_BACKEND=ctranslate2"):
        build_generator(Settings(model_path=str(tiny_model_copy), model_backend="ctranslate2", decoding=contrastive))
    with pytest.raises(ModelLoadError, match="only for adapters over a registered base"):
        CTranslate2Backend.load(str(tiny_causal_model_dir))
    with pytest.raises(ModelLoadError, match="needs a local model directory"):
        CTranslate2Backend.load(str(tiny_model_copy / "missing"))
    with pytest.raises(ModelLoadError, match="compute type"):
        CTranslate2Backend.load(str(tiny_model_copy), compute_type="float16")
    backend = CTranslate2Backend.load(str(tiny_model_copy), threads=1)
    with pytest.raises(ct2.GenerationError, match="not available with CTranslate2"):
        backend.generate(_inputs(backend)[:1], contrastive)


def test_adapters_over_a_gemma_base_give_the_transformers_replies(gemma_adapter_dir: Path) -> None:
    """A CausalLM adapter directory (tiny Gemma 3 base): converted merged and trimmed, run by a Generator;
    in float32 its greedy replies are the transformers backend's."""
    adapter_dir = gemma_adapter_dir
    reference = TransformersBackend.load(str(adapter_dir))
    inputs = _inputs(reference)
    backend = CTranslate2Backend.load(str(adapter_dir), compute_type="float32", threads=1)
    assert backend.format.is_causal and "<eos>" in backend.stop_tokens
    # With n-gram blocking and the repetition penalty too: both backends apply them to the reply only. The
    # random tiny Gemma never ends early, so min_new_tokens only passes through here; the end-prone T5 of
    # test_a_minimum_reply_length_is_the_same_in_both_backends checks what it does.
    for decoding in (replace(GREEDY, no_repeat_ngram_size=0, repetition_penalty=1.0),
                     replace(GREEDY, no_repeat_ngram_size=2, repetition_penalty=1.5),
                     replace(GREEDY, min_new_tokens=6)):
        expected = reference.generate(inputs, decoding)
        assert backend.generate(inputs, decoding) == expected
        assert [backend.generate([text], decoding)[0] for text in inputs] == expected  # batch-mates change nothing
    assert (adapter_dir / "ctranslate2-float32" / ct2.STAMP_FILE).is_file()


def test_reply_selection_scores_as_transformers_and_draws_candidates(tiny_model_copy: Path, gemma_adapter_dir: Path) -> None:
    """Selection through CTranslate2: several sampled hypotheses per input, and candidate scores equal to
    the transformers backend's in float32, for the Seq2Seq T5 and a CausalLM Gemma adapter directory."""
    from bot.config import SelectionSettings
    from bot.generation.selection import select_replies
    from bot.generation.turns import Turn

    for directory in (tiny_model_copy, gemma_adapter_dir):
        reference = TransformersBackend.load(str(directory), torch_threads=1)
        fast = CTranslate2Backend.load(str(directory), compute_type="float32", threads=1)
        inputs = _inputs(reference)
        replies = ["Я люблю собак.", "Привет!", "Играю в футбол по выходным.", "Аня"]
        assert fast.log_likelihoods(inputs, replies) == pytest.approx(reference.log_likelihoods(inputs, replies), abs=1e-3)
        sampled = fast.generate(inputs, replace(GREEDY, strategy="sampling"), per_input=3)
        assert len(sampled) == 3 * len(inputs)
        ranked = select_replies(fast, [Turn(tuple(PERSONA), tuple(h)) for h in HISTORIES], GREEDY, SelectionSettings(candidates=3))
        assert all(1 <= len(candidates) <= 3 for candidates in ranked)



def _ending_early(tiny_model_copy: Path) -> tuple[TransformersBackend, CTranslate2Backend]:
    """Make the tiny model's end token about as likely as its favourite token, so that replies of many lengths
    compete (a random model otherwise never stops before the cap); both backends (CTranslate2 in float32) on it."""
    backend = TransformersBackend.load(str(tiny_model_copy), torch_threads=1)
    model, eos = backend.model, backend.tokenizer.eos_token_id
    with torch.no_grad():
        encoded = backend.tokenizer(_inputs(backend), return_tensors="pt", padding=True)
        steps = model.generate(**encoded, max_new_tokens=12, do_sample=False, output_scores=True,
                               return_dict_in_generate=True).scores
        favourite = torch.stack(steps).argmax(-1).flatten().bincount().argmax()
        head = model.get_output_embeddings().weight
        head[eos] = head[favourite] * 0.97
    model.save_pretrained(tiny_model_copy)
    return (TransformersBackend.load(str(tiny_model_copy), torch_threads=1),
            CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1))


def _same_replies(reference: TransformersBackend, fast: CTranslate2Backend, decoding: DecodingSettings) -> list[str]:
    inputs = _inputs(reference)
    expected = reference.generate(inputs, decoding)
    assert fast.generate(inputs, decoding) == expected
    return expected


def test_beam_search_length_penalty_is_the_same_in_both_backends(tiny_model_copy: Path) -> None:
    # Both engines rank a finished hypothesis by log-probability / (reply length ** LENGTH_PENALTY).
    reference, fast = _ending_early(tiny_model_copy)
    words = {}
    for length_penalty in (0.0, 1.0, 3.0):
        beam = replace(GREEDY, strategy="beam", num_beams=3, max_new_tokens=12, length_penalty=length_penalty,
                       no_repeat_ngram_size=0, repetition_penalty=1.0)
        words[length_penalty] = sum(len(reply.split()) for reply in _same_replies(reference, fast, beam))
    assert words[0.0] < words[1.0] <= words[3.0]  # the penalty is applied: longer replies win more often


def test_a_minimum_reply_length_is_the_same_in_both_backends(tiny_model_copy: Path) -> None:
    reference, fast = _ending_early(tiny_model_copy)
    tokens = {}
    for min_new_tokens in (1, 8):
        replies = _same_replies(reference, fast, replace(GREEDY, max_new_tokens=12, min_new_tokens=min_new_tokens))
        tokens[min_new_tokens] = [len(reference.tokenizer(r, add_special_tokens=False).input_ids) for r in replies]
    assert min(tokens[1]) < 8 <= min(tokens[8])  # the end-prone model stops early unless held back


def test_ending_only_when_likely_is_the_same_in_both_backends(tiny_model_copy: Path) -> None:
    """Greedy that ends only where the end is at least MIN_END_PROBABILITY likely: transformers by a logits
    processor, CTranslate2 by generating again; the same replies, each the plain greedy reply continued."""
    reference, fast = _ending_early(tiny_model_copy)
    plain = replace(GREEDY, max_new_tokens=12)
    short = _same_replies(reference, fast, plain)
    longer = _same_replies(reference, fast, replace(plain, min_end_probability=0.5))
    assert all(long.startswith(reply) for long, reply in zip(longer, short))
    assert sum(map(len, longer)) > sum(map(len, short))  # some end was too unlikely: that reply went on
    # Never likely enough: every reply runs to the cap, as with a minimum length of the cap.
    assert _same_replies(reference, fast, replace(plain, min_end_probability=1.0)) == \
        _same_replies(reference, fast, replace(plain, min_new_tokens=12))
    # Sampling draws the end by its own probability: the setting is greedy's only.
    sampling = replace(plain, strategy="sampling")
    torch.manual_seed(0)
    drawn = reference.generate(_inputs(reference), sampling)
    torch.manual_seed(0)
    assert reference.generate(_inputs(reference), replace(sampling, min_end_probability=1.0)) == drawn


def _keep_out_of_earlier_replies(reference: TransformersBackend, fast: CTranslate2Backend) -> None:
    """Each row's greedy reply R, then R's first two words made the bot's earlier reply: both backends must
    leave R at the same step the same way (R's second word may not follow its first; CTranslate2 reads its
    result again and generates again where it took a banned token), and a row with nothing said before is
    unchanged."""
    decoding = replace(GREEDY, max_new_tokens=12, no_repeat_ngram_size=0)
    inputs = _inputs(reference)
    first = fast.generate(inputs, decoding)
    assert first == reference.generate(inputs, decoding)
    openings = [" ".join(words_only(r).split()[:2]) for r in first]
    earlier = [[o] if i % 2 == 0 else [] for i, o in enumerate(openings)]
    kept_out = fast.generate(inputs, decoding, earlier)
    assert kept_out == reference.generate(inputs, decoding, earlier)
    assert [k != f for k, f in zip(kept_out, first)] == [bool(e) for e in earlier]
    # The earlier reply a persona fact: its n-grams are free once, in both backends alike, and no reply says
    # its earlier one again.
    freed = fast.generate(inputs, decoding, earlier, persona=earlier)
    assert freed == reference.generate(inputs, decoding, earlier, persona=earlier)
    assert not any(repeats_earlier(reply, said) for reply, said in zip(freed, earlier))
    # Word n-grams a rule keeps out (``keep_out``, as ``QUESTION_BACK``): R's second word after its first, kept out
    # in both backends alike, with or without earlier replies.
    rule = [{(words[0],): {words[1]}} if len(words) == 2 else {} for words in (o.split() for o in openings)]
    ruled = fast.generate(inputs, decoding, keep_out=rule)
    assert ruled == reference.generate(inputs, decoding, keep_out=rule)
    assert [r != f for r, f in zip(ruled, first)] == [bool(g) for g in rule]
    assert fast.generate(inputs, decoding, earlier, keep_out=rule) == reference.generate(inputs, decoding, earlier, keep_out=rule)
    # Two-token replies, each told itself: banned by the n-gram of R's opening.
    two = replace(decoding, max_new_tokens=2)
    short = fast.generate(inputs, two)
    again = fast.generate(inputs, two, [[r] for r in short])
    assert all(words_only(a) != words_only(r) for a, r in zip(again, short))


def test_earlier_replies_are_kept_out_as_transformers_keeps_them_out(tiny_model_copy: Path) -> None:
    _keep_out_of_earlier_replies(TransformersBackend.load(str(tiny_model_copy), torch_threads=1),
                                 CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1))


def test_earlier_replies_are_kept_out_of_a_gemma_adapters_replies(gemma_adapter_dir: Path) -> None:
    _keep_out_of_earlier_replies(TransformersBackend.load(str(gemma_adapter_dir)),
                                 CTranslate2Backend.load(str(gemma_adapter_dir), compute_type="float32", threads=1))


def test_a_reply_that_still_takes_a_banned_word_ends_before_it(tiny_model_copy: Path, monkeypatch, caplog) -> None:  # noqa: ANN001
    """With no engine call left to generate again (sampling, or int8 kernels whose earlier steps differ between
    calls, can use them up), the reply ends before the banned word: the rule holds, and the log says so."""
    fast = CTranslate2Backend.load(str(tiny_model_copy), compute_type="float32", threads=1)
    decoding = replace(GREEDY, max_new_tokens=12, no_repeat_ngram_size=0)
    inputs = _inputs(fast)
    first = fast.generate(inputs, decoding)
    words = [words_only(r).split() for r in first]
    rule = [{(w[0],): {w[1]}} if len(w) >= 2 else {} for w in words]  # the reply's second word may not follow its first
    assert any(rule)
    monkeypatch.setattr(ct2, "RULE_ATTEMPTS", 1)
    with caplog.at_level("WARNING", logger=ct2.__name__):
        cut = fast.generate(inputs, decoding, keep_out=rule)
    assert cut == [w[0] if g else r for r, w, g in zip(first, words, rule)]
    assert "still broke a decoding rule" in caplog.text


class _NoLetter(rules.DecodingRule):
    """A toy rule, added in one place (``rules.RULES``): no token whose text holds a given letter."""

    letter = "а"

    def __init__(self, tokenizer) -> None:  # noqa: ANN001
        self.tokens = {i for i in range(len(tokenizer)) if self.letter in tokenizer.decode([i]).lower()}

    @classmethod
    def build(cls, requests: rules.Requests) -> _NoLetter:
        return cls(requests.tokenizer)

    def forbidden(self, request, reply, scores):  # noqa: ANN001, ANN201
        return self.tokens


def _both(directory: Path) -> tuple[TransformersBackend, CTranslate2Backend]:
    return (TransformersBackend.load(str(directory), torch_threads=1),
            CTranslate2Backend.load(str(directory), compute_type="float32", threads=1))


def _sampled(backend, inputs: list[str], decoding: DecodingSettings, seed: int, **kwargs) -> list[str]:  # noqa: ANN001, ANN003
    import ctranslate2

    torch.manual_seed(seed)
    ctranslate2.set_random_seed(seed)
    return backend.generate(inputs, decoding, per_input=4, **kwargs)


@pytest.mark.parametrize("model", ["t5", "gemma"])
def test_a_rule_added_in_one_place_is_obeyed_by_both_backends(model: str, request, monkeypatch) -> None:  # noqa: ANN001
    """A toy rule added to ``RULES`` only: both backends obey it, with the same replies under greedy (with the
    end threshold too, which judges the scores the toy rule leaves), beside the earlier-reply ban (each reply obeys
    both), and under sampling."""
    directory = request.getfixturevalue("tiny_model_copy" if model == "t5" else "gemma_adapter_dir")
    reference, fast = _both(directory)
    inputs = _inputs(reference)
    greedy = replace(GREEDY, max_new_tokens=12)
    sampling = replace(greedy, strategy="sampling", temperature=1.0, top_k=0, top_p=1.0)
    plain = reference.generate(inputs, greedy)
    drawn = _sampled(reference, inputs, sampling, 0) + _sampled(fast, inputs, sampling, 0)
    assert any(_NoLetter.letter in reply.lower() for reply in plain + drawn)  # the rule has something to do
    monkeypatch.setattr(rules, "RULES", (*rules.RULES, _NoLetter))

    def obeyed(replies: list[str]) -> bool:
        return not any(_NoLetter.letter in reply.lower() for reply in replies)

    for decoding in (greedy, replace(greedy, min_end_probability=0.5)):
        expected = reference.generate(inputs, decoding)
        assert fast.generate(inputs, decoding) == expected and obeyed(expected)
    earlier = [[" ".join(words_only(reply).split()[:2])] for reply in plain]
    for backend in (reference, fast):
        kept = backend.generate(inputs, greedy, earlier)
        assert obeyed(kept) and not any(words_only(reply).startswith(said[0]) for reply, said in zip(kept, earlier))
        assert obeyed(_sampled(backend, inputs, sampling, 0))


class _EndAfterThree(rules.DecodingRule):
    """A toy rule that ends replies (``ends``): after their third token."""

    @classmethod
    def build(cls, requests: rules.Requests) -> _EndAfterThree:
        return cls()

    def forbidden(self, request, reply, scores):  # noqa: ANN001, ANN201
        return ()

    def ends(self, request, reply) -> bool:  # noqa: ANN001
        return len(reply) >= 3


@pytest.mark.parametrize("model", ["t5", "gemma"])
def test_a_rule_that_ends_replies_is_obeyed_by_both_backends(model: str, request, monkeypatch) -> None:  # noqa: ANN001
    """Where a rule ends a reply, both backends end it there: the same replies under greedy (alone and with the
    end threshold, which the ending overrides), each the start of the reply the rule did not end; sampled replies
    too (CTranslate2 stops the engine there, or cuts the reply)."""
    directory = request.getfixturevalue("tiny_model_copy" if model == "t5" else "gemma_adapter_dir")
    reference, fast = _both(directory)
    inputs = _inputs(reference)
    greedy = replace(GREEDY, max_new_tokens=12)
    sampling = replace(greedy, strategy="sampling", temperature=0.9, top_k=20, top_p=1.0)
    plain = fast.generate(inputs, greedy)
    monkeypatch.setattr(rules, "RULES", (*rules.RULES, _EndAfterThree))
    for decoding in (greedy, replace(greedy, min_end_probability=0.9)):
        ended = reference.generate(inputs, decoding)
        assert fast.generate(inputs, decoding) == ended
    ended = reference.generate(inputs, greedy)
    assert all(whole.startswith(start) for whole, start in zip(plain, ended)) and ended != plain
    for backend in (reference, fast):
        assert max(len(reply.split()) for reply in _sampled(backend, inputs, sampling, 0)) <= 3


@pytest.mark.parametrize("model", ["t5", "gemma"])
def test_sampled_replies_of_both_backends_keep_earlier_replies_out(model: str, request) -> None:  # noqa: ANN001
    """The earlier-reply ban under sampling (🔄, reply selection): the word pairs that replies drawn without it
    open with are banned, and no reply of either backend drawn with it holds one."""
    directory = request.getfixturevalue("tiny_model_copy" if model == "t5" else "gemma_adapter_dir")
    reference, fast = _both(directory)
    inputs = _inputs(reference)
    sampling = replace(GREEDY, strategy="sampling", max_new_tokens=12, temperature=0.7, top_k=5, top_p=1.0,
                       no_repeat_earlier_ngram_size=2, no_repeat_ngram_size=0)
    for backend in (reference, fast):
        free = _sampled(backend, inputs, sampling, 1)
        openings = [[" ".join(words_only(r).split()[:2]) for r in free[i * 4 : (i + 1) * 4]] for i in range(len(inputs))]
        pairs = [{tuple(o.split()) for o in said if len(o.split()) == 2} for said in openings]
        assert any(pairs)
        kept = _sampled(backend, inputs, sampling, 1, earlier=openings)
        for i, reply in enumerate(kept):
            words = words_only(reply).split()
            assert not set(zip(words, words[1:])) & pairs[i // 4], (backend, reply)
        assert kept != free


def test_the_end_threshold_is_greedy_s_only_in_both_backends(tiny_model_copy: Path) -> None:
    """Sampling draws the end by its own probability: no rule and no engine option changes with the threshold
    (transformers: the same draws from the same seed)."""
    reference, fast = _ending_early(tiny_model_copy)
    sampling = replace(GREEDY, strategy="sampling", max_new_tokens=12)
    never = replace(sampling, min_end_probability=1.0)
    def threshold(decoding: DecodingSettings) -> list[rules.DecodingRule]:
        built = rules.decoding_rules(rules.requests_for(fast, decoding, 1))
        return [rule for rule in built if isinstance(rule, rules.EndOnlyWhenLikely)]

    assert not threshold(never) and threshold(replace(never, strategy="greedy"))
    assert ct2.decoding_options(fast, never) == ct2.decoding_options(fast, sampling)
    inputs = _inputs(reference)
    assert _sampled(reference, inputs, sampling, 3) == _sampled(reference, inputs, never, 3)
