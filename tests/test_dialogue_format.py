"""The model input format: exact strings, limits, shuffling, persistence."""

import json
import random
import re

import pytest

from dialogue import FORMAT_FILE, FormatSpec, tokenizer_truncator

PERSONA = ["Я работаю учителем.", "У меня есть собака."]
HISTORY = ["Привет!", "Привет, как дела?", "Хорошо, а у тебя?"]


def test_godel_format_exact():
    assert FormatSpec("godel").build_input(PERSONA, HISTORY) == (
        "[CONTEXT] Привет! EOS Привет, как дела? EOS Хорошо, а у тебя? "
        "[KNOWLEDGE] Я работаю учителем. У меня есть собака."
    )


def test_concat_formats_exact():
    assert FormatSpec("concat").build_input(PERSONA, HISTORY[:2]) == (
        "[PERSONA] Я работаю учителем. У меня есть собака. [DIALOGUE] Привет! EOS Привет, как дела?"
    )
    # The causal prompt ends with the separator so that the reply continues it.
    assert FormatSpec("concat_causal").build_input(PERSONA[:1], HISTORY[:1]) == (
        "[PERSONA] Я работаю учителем. [DIALOGUE] Привет! EOS "
    )
    assert FormatSpec("concat_causal").is_causal and not FormatSpec("godel").is_causal


def test_chat_causal_format_exact():
    # One turn a line; the speakers alternate backwards from the last turn, which is the other's.
    assert FormatSpec("chat_causal").build_input(PERSONA, HISTORY) == (
        "Обо мне: Я работаю учителем. У меня есть собака.\n"
        "Собеседник: Привет!\nЯ: Привет, как дела?\nСобеседник: Хорошо, а у тебя?\nЯ:"
    )
    # No persona (the open-domain corpora): no persona line. A reply follows "Я:" after a space.
    spec = FormatSpec("chat_causal")
    assert spec.build_input([], HISTORY[1:]) == "Я: Привет, как дела?\nСобеседник: Хорошо, а у тебя?\nЯ:"
    assert spec.is_causal and spec.reply_prefix == " " and FormatSpec("concat_causal").reply_prefix == ""
    # An utterance with line breaks of its own stays on its line.
    assert spec.build_input([], ["Привет!\nКак дела?"]) == "Собеседник: Привет! Как дела?\nЯ:"


def test_empty_history_and_persona():
    assert FormatSpec("godel").build_input([], ["Привет!"]) == "[CONTEXT] Привет! [KNOWLEDGE]"
    assert FormatSpec("godel").build_input(PERSONA[:1], []) == "[CONTEXT] [KNOWLEDGE] Я работаю учителем."


def test_whitespace_is_normalised():
    assert FormatSpec("godel").build_input(["  Я\nучитель. "], ["a\t\tb"]) == "[CONTEXT] a b [KNOWLEDGE] Я учитель."


def test_limits_truncate_facts_utterances_and_history():
    spec = FormatSpec("godel", max_fact_tokens=2, max_utterance_tokens=3, max_history_turns=2, max_persona_facts=1)
    text = spec.build_input(["один два три", "второй факт"], ["старая реплика", "раз два три четыре", "пять"])
    assert text == "[CONTEXT] раз два три EOS пять [KNOWLEDGE] один два"
    assert spec.build_target("а б в г д") == "а б в"


def test_truncation_by_model_tokens(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    truncate = tokenizer_truncator(tokenizer)
    long_text = "привет как дела у тебя сегодня " * 5
    cut = truncate(long_text, 4)
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 4
    assert long_text.startswith(cut.split()[0])
    assert truncate("привет", 10) == "привет"


def test_shuffling_is_deterministic_with_a_seed():
    spec = FormatSpec("godel")
    facts = [f"факт {i}." for i in range(6)]
    first = spec.build_input(facts, HISTORY, shuffle_persona=True, rng=random.Random(7))
    again = spec.build_input(facts, HISTORY, shuffle_persona=True, rng=random.Random(7))
    other = spec.build_input(facts, HISTORY, shuffle_persona=True, rng=random.Random(8))
    assert first == again and first != other
    assert first.startswith("[CONTEXT] Привет! EOS Привет, как дела? EOS Хорошо, а у тебя? [KNOWLEDGE]")
    shuffled = re.findall(r"факт \d\.", first.split("[KNOWLEDGE] ")[1])
    assert sorted(shuffled) == facts and shuffled != facts  # the same facts, another order


def test_history_shuffle_keeps_utterances():
    spec = FormatSpec("concat")
    text = spec.build_input(PERSONA, HISTORY, shuffle_history=True, rng=random.Random(1))
    turns = text.split("[DIALOGUE] ")[1].split(" EOS ")
    assert sorted(turns) == sorted(HISTORY)


def test_save_and_load_round_trip(tmp_path):
    spec = FormatSpec("godel", max_fact_tokens=12, max_utterance_tokens=30, extra={"experiment": "ru_mix"})
    path = spec.save(tmp_path)
    assert path.name == FORMAT_FILE
    assert FormatSpec.load(tmp_path) == spec


@pytest.mark.parametrize(
    "content, message",
    [(None, "is missing"), ("{not json", "not valid JSON"), (json.dumps({"name": "godel", "colour": 1}), "unknown keys")],
)
def test_load_errors_name_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / FORMAT_FILE).write_text(content)
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        FormatSpec.load(tmp_path)


@pytest.mark.parametrize("kwargs", [{"name": "gpt"}, {"max_fact_tokens": 0}, {"max_source_tokens": 2}])
def test_invalid_specs_are_rejected(kwargs):
    with pytest.raises(ValueError):
        FormatSpec(**kwargs)
