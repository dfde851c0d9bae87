"""The persona probes and the repetition check: what they count, on a scripted backend and on a real tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import SelectionSettings
from bot.generation import Generator
from bot.generation.turns import MAX_SENTENCES, Turn, compose, sentences_after
from dialogue.grounding import answering_facts, own_name
from training.evaluation.conversation_checks import (
    CHECKS_FILE,
    PROBES,
    SCRIPTED_DIALOGUE,
    main,
    persona_probes,
    replier,
    run_checks,
    scripted_dialogues,
    summary,
)
from training.evaluation.conversation import UNNAMED, _own_name, conversations, said_name
from training.evaluation.predict import GREEDY, load_backend


class ScriptedBackend:
    """Answers every input with the next reply of a script (the counting is under test, not a model)."""

    def __init__(self, tiny_backend, replies: list[str]) -> None:  # noqa: ANN001
        self.format, self.tokenizer, self.replies, self.inputs = tiny_backend.format, tiny_backend.tokenizer, replies, []

    def generate(self, inputs: list[str], decoding, earlier=None, *, persona=None, keep_out=None,  # noqa: ANN001
                 max_sentences=None, openings=None) -> list[str]:  # noqa: ANN001
        self.inputs += inputs
        self.max_sentences = max_sentences
        return [self.replies[(len(self.inputs) - len(inputs) + i) % len(self.replies)] for i in range(len(inputs))]


def test_the_probes_cover_ten_personas_with_at_least_twenty_questions() -> None:
    assert len(PROBES) >= 20 and len({p.persona for p in PROBES}) >= 10
    assert len(SCRIPTED_DIALOGUE) == 8 == len(set(SCRIPTED_DIALOGUE))
    assert all(p.stems and all(s == s.lower() for s in p.stems) for p in PROBES)


def test_a_reply_the_sentence_limit_ended_is_cut_before_the_sentence_it_began(tiny_model_dir: Path) -> None:
    """The model is told how many sentences the bot sends (``SentenceLimit``) and stops at the first token of one
    more: that fragment goes, and with it a question back it would have kept from being cut."""
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["Я врач. А ты? Я", "Я врач. Люблю собак. Я"])
    turn = Turn(("Я работаю врачом.",), ("Расскажи о себе.",))
    assert compose(backend, [turn, turn], GREEDY) == ["Я врач.", "Я врач. Люблю собак."]
    assert backend.max_sentences == [MAX_SENTENCES, MAX_SENTENCES]
    assert sentences_after("Тебя зовут Олег.") == 1 and sentences_after("Да,") == sentences_after("") == MAX_SENTENCES


@pytest.mark.parametrize(("script", "sent"), [
    (["Я работаю медсестрой, но люблю зиму. Кот спит."], "Я работаю медсестрой."),  # cut before the clause
    (["А я люблю собак.", "У меня есть кот Барсик."], "У меня есть кот Барсик."),  # written again, the first kept out
    (["Я люблю собак.", "Обожаю собак!"], "Я боюсь собак."),  # said twice: the fact it contradicts is the answer
])
def test_a_reply_never_contradicts_the_persona(tiny_model_dir: Path, script: list[str], sent: str) -> None:
    backend = ScriptedBackend(load_backend(tiny_model_dir), script)
    turn = Turn(("Я работаю медсестрой.", "Я боюсь собак.", "Я не люблю зиму.", "У меня есть кот Барсик."),
                ("Расскажи о себе.",))
    assert compose(backend, [turn], GREEDY) == [sent]
    assert len(backend.inputs) == min(len(script), 2)


def test_a_question_back_comes_after_the_answer(tiny_model_dir: Path) -> None:
    """In return for «Кем ты работаешь?» the bot may ask back, as people do, but not instead of answering."""
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["А ты?", "Я врач. А ты?"])
    turn = Turn(("Я работаю врачом.",), ("Привет!", "Привет!", "Кем ты работаешь?"))
    assert compose(backend, [turn], GREEDY) == ["Я врач."]  # written again, the question back kept out
    asked = ScriptedBackend(load_backend(tiny_model_dir), ["Я врач, а ты?"])
    assert compose(asked, [turn], GREEDY) == ["Я врач, а ты?"]
    assert compose(asked, [Turn(turn.persona, turn.history, ("Я учитель.",))], GREEDY) == ["Я врач."]  # known


def test_a_reply_cut_to_an_earlier_one_is_written_again(tiny_model_dir: Path) -> None:
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["Я медсестра. А я люблю собак.", "У меня есть кот."])
    turn = Turn(("Я работаю медсестрой.", "Я боюсь собак."), ("Кем работаешь?", "Я медсестра.", "Расскажи о себе."))
    assert compose(backend, [turn], GREEDY) == ["У меня есть кот."]


def test_what_the_bot_said_of_itself_is_kept_to_unless_it_broke_the_persona(tiny_model_dir: Path) -> None:
    history = ("Где ты живёшь?", "Я живу в Самаре.", "А кем работаешь?", "Я люблю собак.", "Расскажи ещё.")
    turn = Turn(("Я боюсь собак.",), history)
    # The persona gives no name: the one the bot says when asked is among its facts (``grounding.own_name``).
    assert turn.own_facts == ["Я боюсь собак.", "Я живу в Самаре.", f"Меня зовут {own_name(turn.persona)}."]
    later = Turn(("Я люблю рок.",), ("Есть животные?", "У меня есть собака.", "А кошки?", "У меня нет животных.", "Ну?"))
    assert later.own_facts[:2] == ["Я люблю рок.", "У меня есть собака."]  # what it said first stands
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["Я живу в Москве, там хорошо.", "Я живу в Самаре."])
    assert compose(backend, [turn], GREEDY) == ["Я живу в Самаре."]


def test_a_reply_that_would_say_the_users_message_back_once_cut_is_generated_again(tiny_model_dir: Path) -> None:
    """An echo is judged on the reply as sent: «Привет! Что нового? Чем занимаешься?» is cut to two sentences of
    which the first pair is the user's own message."""
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["Привет! Что нового? Чем занимаешься?", "Привет! Всё по-старому."])
    turn = Turn(("Я работаю врачом.",), ("Привет! Что нового?",))
    assert compose(backend, [turn], GREEDY) == ["Привет! Всё по-старому."]
    assert len(backend.inputs) == 2


def test_a_reply_that_takes_what_the_user_told_for_its_own_is_generated_again(tiny_model_dir: Path) -> None:
    """«У меня есть кот, он очень толстый.» -> «А у меня кот, он очень толстый.» is the user's cat: written again with
    the message kept out; words the bot's own facts say too («работаю учителем в школе») are its own."""
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["А у меня кот, он очень толстый.", "Ого! Сколько он весит?"])
    turn = Turn(("Я работаю врачом.",), ("Привет!", "Привет!", "У меня есть кот, он очень толстый."))
    assert compose(backend, [turn], GREEDY) == ["Ого! Сколько он весит?"]
    assert len(backend.inputs) == 2
    backend = ScriptedBackend(load_backend(tiny_model_dir), ["Я тоже работаю учителем в школе."])
    turn = Turn(("Я работаю учителем в школе.",), ("Я работаю учителем в школе.",))
    assert compose(backend, [turn], GREEDY) == ["Я тоже работаю учителем в школе."]
    assert len(backend.inputs) == 1


def test_a_question_its_persona_answers_answered_with_something_else_is_written_from_the_fact(
        tiny_causal_model_dir: Path) -> None:
    """«Что ты выращиваешь?» -> «Я вязала носки.» of a gardener: written again opening with the fact; a reply that tells
    it stays as the model wrote it, one with only the question's words («Я выращиваю …») does not."""
    persona = ("Я на пенсии.", "У меня огород, я выращиваю помидоры.", "Я люблю вязать носки.")
    turn = Turn(persona, ("Что ты выращиваешь?",))
    backend = ScriptedBackend(load_backend(tiny_causal_model_dir), ["Я вязала носки.", "Они очень вкусные."])
    assert compose(backend, [turn], GREEDY) == ["У меня огород, я выращиваю помидоры. Они очень вкусные."]
    assert backend.inputs[1].endswith("У меня огород, я выращиваю помидоры.")  # the model went on from the fact
    backend = ScriptedBackend(load_backend(tiny_causal_model_dir), ["Я выращиваю внуков.", "Они красные."])
    assert compose(backend, [turn], GREEDY) == ["У меня огород, я выращиваю помидоры. Они красные."]
    backend = ScriptedBackend(load_backend(tiny_causal_model_dir), ["Помидоры, конечно!"])
    assert compose(backend, [turn], GREEDY) == ["Помидоры, конечно!"] and len(backend.inputs) == 1
    assert answering_facts("Кем ты работаешь?", persona) == ["Я на пенсии."]
    assert answering_facts("Откуда ты?", ["Я люблю книги.", "Я живу в Петербурге."]) == ["Я живу в Петербурге."]
    assert answering_facts("Чем ты занимаешься в свободное время?", persona) == []  # nothing in the persona says
    assert answering_facts("У тебя есть огород?", persona) == []  # a yes/no question: its own rule


def test_a_reply_that_tells_a_told_fact_again_is_written_again_without_it(tiny_causal_model_dir: Path) -> None:
    """The cat told two turns before: «Здорово. У меня кошка Муська.» goes again with the fact kept out, as if said
    once more (the model must say something new); where the new reply tells it too, its other words are sent."""
    persona = ("Я работаю учителем.", "У меня есть кошка Муська.")
    turn = Turn(persona, ("Привет!", "Привет! У меня есть кошка Муська.", "Я сегодня гуляла в парке."))
    backend = ScriptedBackend(load_backend(tiny_causal_model_dir),
                              ["Здорово. У меня кошка Муська.", "Здорово! А где гуляла?"])
    assert compose(backend, [turn], GREEDY) == ["Здорово! А где гуляла?"]
    assert len(backend.inputs) == 2
    backend = ScriptedBackend(load_backend(tiny_causal_model_dir),
                              ["Здорово. У меня кошка Муська.", "Ого. А у меня кошка."])
    assert compose(backend, [turn], GREEDY) == ["Ого."]


def test_the_scripted_dialogues_count_replies_against_the_persona_or_an_earlier_reply() -> None:
    """Counted on replies as given (not through ``compose``, which would keep them consistent)."""
    def replies(personas, histories):  # noqa: ANN001, ANN202
        turn = len(histories[0]) // 2
        return ["Я живу в Омске." if turn == 1 else "Я живу в Сочи." if turn == 2 else f"Ответ {turn}" for _ in personas]

    result = scripted_dialogues(replies)
    # «Я живу в Омске.» is against the four personas that live elsewhere; «Я живу в Сочи.» then against all but the
    # one that lives there (against the persona's town, or «Омск» said before, which the bot keeps to)
    assert result["contradicting_replies"] == 4 + 9
    turns = result["dialogues"][1]["turns"]
    assert [t["contradicts"] for t in turns[1:3]] == ["Я живу в Москве.", "Я живу в Москве."]
    assert result["dialogues"][2]["turns"][2]["contradicts"] == "Я живу в Омске."


def test_the_scripted_dialogues_count_facts_told_again_unasked() -> None:
    """A reply that ends with the bot's first fact every turn: told again unasked from the third turn on, where a
    question of another kind was asked («Где ты живёшь?» of a teacher), not where one asks of it («Чем ты занимаешься?»)."""
    def replies(personas, histories):  # noqa: ANN001, ANN202
        return [f"Ну, вот так. {persona[0]}" for persona in personas]

    result = scripted_dialogues(replies)
    turns = result["dialogues"][0]["turns"]  # the teacher's: «Я работаю учительницей русского языка.»
    assert [t["told_again"] for t in turns] == [False, False, True, True, True, True, True, True]
    assert result["told_again"] == sum(t["told_again"] for d in result["dialogues"] for t in d["turns"]) > 30


def test_a_reply_that_repeats_an_earlier_one_counts_once_per_repeat(tiny_model_dir: Path) -> None:
    personas = len({p.persona for p in PROBES})
    # Every dialogue gets, turn by turn: "Привет!", "Погода хорошая.", "погода хорошая", then distinct replies.
    script = ["Привет!"] * personas + ["Погода хорошая."] * personas + ["погода хорошая"] * personas
    script += [f"Ответ {turn} {i}" for turn in range(5) for i in range(personas)]
    backend = ScriptedBackend(load_backend(tiny_model_dir), script)
    result = scripted_dialogues(replier(backend, GREEDY))
    assert result["replies"] == personas * 8
    assert result["repeated_replies"] == personas  # "погода хорошая" repeats "Погода хорошая." (case, punctuation aside)
    turns = result["dialogues"][0]["turns"]
    assert [t["repeat"] for t in turns] == [False, False, True, False, False, False, False, False]
    # The bot's replies went into the history: the last input holds the seventh reply.
    assert "Ответ 4" not in backend.inputs[-1] and "Ответ 3" in backend.inputs[-1]


def test_a_probe_is_reflected_by_any_of_its_stems(tiny_model_dir: Path) -> None:
    replies = ["Я работаю в школе." if "Кем" in p.question else "Не знаю." for p in PROBES]
    result = persona_probes(replier(ScriptedBackend(load_backend(tiny_model_dir), replies), GREEDY))
    expected = sum(1 for p, r in zip(PROBES, replies) if any(s in r.lower() for s in p.stems))
    assert result["reflected"] == expected and 1 <= expected < len(PROBES)


def test_run_checks_writes_the_figures_beside_the_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    checks = run_checks(model_dir)
    assert json.loads((model_dir / CHECKS_FILE).read_text()) == checks
    assert checks["persona_probes"]["probes"] == len(PROBES) and checks["repetition"]["replies"] == 80
    talk = checks["conversation"]
    assert talk["own_name"]["personas"] == 5 and talk["responding"]["told"] == 10
    assert "; its own name said " in summary(checks) and "; responds to what the user told " in summary(checks)


async def test_a_causal_model_says_a_name_of_its_own_and_keeps_to_it(tiny_causal_model_dir: Path) -> None:
    """Even a random model says a name when asked, and the same one again: the opening is the bot's, not the model's
    (a CausalLM's; a Seq2Seq model's replies have no opening)."""
    backend = load_backend(tiny_causal_model_dir)
    async with conversations(Generator(backend, decoding=GREEDY)) as talk:
        own = await _own_name(talk)
    assert own["named"] == own["kept"] == own["personas"] == len(UNNAMED), own["rows"]
    assert all(row["reply"].startswith("Меня зовут ") for row in own["rows"])
    assert len({said_name(row["reply"]) for row in own["rows"]}) > 1  # not one name for every persona


def test_checks_with_reply_selection_go_where_asked(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "checks_selection.json"
    checks = run_checks(tiny_model_dir, selection=SelectionSettings(candidates=3), out=out)
    assert json.loads(out.read_text()) == checks and checks["selection"]["candidates"] == 3
    assert checks["repetition"]["replies"] == 80 and checks["repetition"]["repeated_replies"] == 0


def test_the_checks_decode_with_the_preset_asked_for(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "checks_beam.json"
    assert main([str(tiny_model_dir), "--decoding", "beam4-norepeat3", "--out", str(out)]) == 0
    decoding = json.loads(out.read_text())["decoding"]
    assert decoding["strategy"] == "beam" and decoding["num_beams"] == 4 and decoding["repetition_penalty"] == 1.0
    assert f"-> {out}" in capsys.readouterr().out


def test_the_checks_run_through_the_ctranslate2_backend_too(tiny_model_copy: Path, tmp_path: Path) -> None:
    """``--backend ctranslate2``: the bot's CTranslate2 backend (int8, converted beside a copy of the model) keeps
    the bot's earlier replies out as the transformers backend does: no scripted reply repeats an earlier one."""
    pytest.importorskip("ctranslate2")
    out = tmp_path / "checks_ct2.json"
    assert main([str(tiny_model_copy), "--backend", "ctranslate2", "--out", str(out)]) == 0
    checks = json.loads(out.read_text())
    assert checks["backend"] == "ctranslate2" and (tiny_model_copy / "ctranslate2-int8").is_dir()
    assert checks["repetition"]["replies"] == 80 and checks["repetition"]["repeated_replies"] == 0


def test_ctranslate2_in_float32_gives_the_transformers_backends_probe_replies(tiny_model_copy: Path, tmp_path: Path) -> None:
    """``--ct2-compute-type float32``: the figures say which weights were checked; a probe (no earlier reply to keep
    out) gets the transformers backend's reply, and no scripted reply repeats an earlier one. (Where the earlier-reply
    ban bites, CTranslate2 bans by generating again and may differ: ``CTranslate2Backend.run_tokens``.)"""
    pytest.importorskip("ctranslate2")
    out = tmp_path / "checks_ct2.json"
    assert main([str(tiny_model_copy), "--backend", "ctranslate2", "--ct2-compute-type", "float32", "--out", str(out)]) == 0
    fast, reference = json.loads(out.read_text()), run_checks(tiny_model_copy, out=tmp_path / "checks.json")
    assert fast["ct2_compute_type"] == "float32" and (tiny_model_copy / "ctranslate2-float32").is_dir()
    assert "ct2_compute_type" not in reference and fast["repetition"]["repeated_replies"] == 0
    assert [row["reply"] for row in fast["persona_probes"]["rows"]] == [
        row["reply"] for row in reference["persona_probes"]["rows"]]
