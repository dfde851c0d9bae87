"""Reply selection (issue #16) with real tiny models: candidates from one batched generate call, scored by
the model's own likelihood with and without the persona, near-duplicates of what was said never chosen
while another candidate is left, 🔄 showing the next candidate without a new generation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bot.config import DecodingSettings, SelectionSettings
from bot.generation import Generator, TransformersBackend
from bot.generation.turns import Turn, compose
from bot.generation.selection import DUPLICATE_RATIO, Drawn, consensus, rank, select_replies, similarity
from tests.telegram_harness import telegram_harness

torch.set_num_threads(1)
PERSONA = ["Я люблю собак.", "Я работаю программистом."]
HISTORIES = [["Привет! Как дела?"], ["Чем ты занимаешься?", "Играю в футбол.", "А ты?"]]
GREEDY = DecodingSettings(strategy="greedy", max_new_tokens=8)
SAMPLING = DecodingSettings(strategy="sampling", max_new_tokens=8, temperature=1.5, top_p=1.0, top_k=0)
SELECTION = SelectionSettings(candidates=4, persona_weight=0.5, repeat_penalty=1.0)


@pytest.fixture(scope="module", params=["seq2seq", "causal"])
def backend(request, tiny_model_dir: Path, tiny_causal_model_dir: Path) -> TransformersBackend:
    path = tiny_model_dir if request.param == "seq2seq" else tiny_causal_model_dir
    return TransformersBackend.load(str(path), torch_threads=1)


def test_log_likelihood_is_the_models_own_mean_token_log_probability(backend: TransformersBackend) -> None:
    source = backend.format.build_input(PERSONA, HISTORIES[1])
    reply = "Я программист, люблю собак."
    (score,) = backend.log_likelihoods([source], [reply])
    from bot.generation.backends import IGNORE, scored_row

    ids, labels = scored_row(backend.tokenizer, backend.format, source, reply)
    with torch.inference_mode():  # the model's own loss: the mean negative log-likelihood of the labels
        loss = backend.model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
    assert score == pytest.approx(-float(loss), abs=1e-4)
    assert sum(label != IGNORE for label in labels) > 1
    # batched with other rows of other lengths: the same figure
    assert backend.log_likelihoods([source, "короткий", source], [reply, "да", "нет"])[0] == pytest.approx(score, abs=1e-4)


def test_candidates_come_ranked_and_are_deterministic_with_a_seed(backend: TransformersBackend) -> None:
    def run():
        torch.manual_seed(0)
        return select_replies(backend, [Turn(tuple(PERSONA), tuple(h)) for h in HISTORIES], SAMPLING, SELECTION)

    first, second = run(), run()
    assert first == second
    for candidates in first:
        assert 1 <= len(candidates) <= SELECTION.candidates
        assert len({c.text for c in candidates}) == len(candidates)  # identical texts once
        clean = [c for c in candidates if c.similarity < DUPLICATE_RATIO]
        assert [c.score for c in clean] == sorted((c.score for c in clean), reverse=True)
        for c in candidates:
            assert c.score == pytest.approx(c.with_persona - 0.5 * c.without_persona - c.similarity)


def test_a_duplicate_of_an_earlier_reply_is_never_chosen_when_another_candidate_exists(
    backend: TransformersBackend,
) -> None:
    question, other = "Чем ты занимаешься?", "Я программист и люблю собак."
    source = backend.format.build_input(PERSONA, [question])
    texts = ["Играю в футбол.", other]
    scores = backend.log_likelihoods([source] * 2, texts)
    said = texts[scores.index(max(scores))]  # the model's favourite, made the bot's earlier reply
    history = ["Привет!", said + "!", question]
    plain = backend.log_likelihoods([backend.format.build_input([], history)] * 2, texts)
    ranked = rank(texts, scores, plain, history, SelectionSettings(candidates=2, persona_weight=0.0, repeat_penalty=0.0))
    assert ranked[0].text != said and similarity(said, [said + "!"]) >= DUPLICATE_RATIO
    # the user's own message is not echoed either, and a lone duplicate is still a reply
    assert rank([question], [0.0], [0.0], history, SELECTION)[0].text == question


def test_consensus_favours_what_the_other_candidates_say() -> None:
    texts = ["Я работаю учителем.", "Я работаю учителем в школе.", "Кот спит на окне.", "Работаю учителем, а ты?"]
    agreement = consensus(texts)
    assert min(agreement) == agreement[2] and max(agreement) < 1.0  # the odd one out agrees least
    assert consensus([*texts, texts[2]])[2] > agreement[2]  # a second draw of the same text is support
    assert consensus(["Да.", ""])[1] == 0.0 and consensus(["Да."]) == [0.0]  # nothing to agree with
    likelihood = [-1.0, -1.2, -0.2, -1.1]  # the model's own favourite is the odd one
    plain = SelectionSettings(candidates=4, persona_weight=0.0)
    assert rank(texts, likelihood, likelihood, [], plain)[0].text == texts[2]
    minimum_bayes_risk = SelectionSettings(candidates=4, persona_weight=0.0, consensus_weight=20.0)
    ranked = rank(texts, likelihood, likelihood, [], minimum_bayes_risk)
    assert ranked[0].text != texts[2] and ranked[-1].text == texts[2]
    assert all(c.score == pytest.approx(c.with_persona + 20.0 * c.consensus) for c in ranked)
    # the evaluation re-ranks the first N draws: their agreement among themselves, not with later draws
    drawn = Drawn(texts, likelihood, likelihood)
    first_two = {c.text: c.consensus for c in drawn.ranked([], minimum_bayes_risk, 2)}
    assert first_two == dict(zip(texts[:2], consensus(texts[:2])))
    assert {c.text: c.consensus for c in drawn.ranked([], minimum_bayes_risk)} == dict(zip(texts, agreement))


async def test_off_by_setting_gives_the_plain_reply(backend: TransformersBackend) -> None:
    async with Generator(backend, decoding=GREEDY, selection=SelectionSettings(candidates=0)) as generator:
        result = await generator.generate(PERSONA, HISTORIES[0])
    assert result.candidates == () and "selection" not in result.decoding
    assert result.text == compose(backend, [Turn(tuple(PERSONA), tuple(HISTORIES[0]))], GREEDY)[0]  # as composed


@pytest.mark.parametrize("consensus_weight", [0.0, 2.0])
async def test_the_generator_selects_through_its_micro_batches(backend: TransformersBackend, consensus_weight) -> None:
    selection = SelectionSettings(candidates=4, persona_weight=0.5, repeat_penalty=1.0, consensus_weight=consensus_weight)
    async with Generator(backend, decoding=GREEDY, selection=selection) as generator:
        results = [await generator.generate(PERSONA, h) for h in HISTORIES]
    for result in results:
        assert result.candidates and result.text == result.candidates[0].text
        assert result.decoding["strategy"] == "sampling" and result.decoding["selection"] == {
            "candidates": 4, "persona_weight": 0.5, "repeat_penalty": 1.0, "consensus_weight": consensus_weight}
        agreement = [c.consensus for c in result.candidates]  # measured (and weighed) only when it counts
        assert all(0 <= a <= 1 for a in agreement) and (any(agreement) if consensus_weight else not any(agreement))
        for c in result.candidates:
            assert c.score == pytest.approx(c.with_persona - 0.5 * c.without_persona - c.similarity
                                            + consensus_weight * c.consensus)


async def test_regenerate_shows_the_next_candidate_without_generating(tmp_path: Path, tiny_model_dir: Path) -> None:
    async with telegram_harness(tmp_path, tiny_model_dir, rerank_candidates=4) as tg:
        await tg.say(42, "Привет! Чем занимаешься?")
        message = tg.last_message(42)
        async with tg.repo() as repo:
            stored = await repo.find_reply(int(tg.buttons(message)["👍"].split(":")[-1]))
        candidates = stored.candidates
        assert candidates[0]["text"] == message["text"] and candidates[0]["shown"]
        assert stored.decoding["chosen"] == {"index": 0, "source": "model", "score": candidates[0]["score"]}
        backend = tg.runtime.generator.backend
        calls = []
        original = backend.generate
        backend.generate = lambda *a, **k: calls.append(a) or original(*a, **k)
        try:
            for shown in range(1, len(candidates)):
                await tg.feed(tg.fake.callback_update(42, message, tg.buttons(message)["🔄"]))
                assert tg.fake.sent("editMessageText")[-1].params["text"] == candidates[shown]["text"]
            assert calls == []  # every candidate shown, none generated
            await tg.feed(tg.fake.callback_update(42, message, tg.buttons(message)["🔄"]))
            assert len(calls) == 1  # none left: a new generation
        finally:
            backend.generate = original
