"""Metrics on hand-made examples whose values are worked out by hand."""

from __future__ import annotations

import pytest

from training.evaluation import metrics


def test_normalize_drops_punctuation_case_and_english_articles() -> None:
    assert metrics.normalize("Привет, Мир! Ёлка…", "ru") == ["привет", "мир", "елка"]
    assert metrics.normalize("The cat saw a dog.", "en") == ["cat", "saw", "dog"]
    assert metrics.normalize("the", "ru") == ["the"]  # articles are English only


def test_unigram_f1_known_values() -> None:
    # pred {я, люблю, кошек}, ref {я, люблю, собак, очень}: common 2, P = 2/3, R = 2/4 -> F1 = 4/7
    assert metrics.unigram_f1("Я люблю кошек", "я люблю собак очень") == pytest.approx(4 / 7)
    assert metrics.unigram_f1("да", "нет") == 0.0
    assert metrics.unigram_f1("", "нет") == 0.0
    # repeated tokens count as often as they occur in both
    assert metrics.unigram_f1("да да да", "да") == pytest.approx(0.5)
    assert metrics.mean_f1(["a b", "x"], ["a b", "y"], "en") == pytest.approx(0.5)  # "a" is an article: "b" vs "b"


def test_distinct_n_counts_unique_over_all() -> None:
    replies = ["я тут", "я там"]
    assert metrics.distinct_n(replies, 1) == pytest.approx(3 / 4)
    assert metrics.distinct_n(replies, 2) == pytest.approx(2 / 2)
    assert metrics.distinct_n(["да да да"], 2) == pytest.approx(1 / 2)
    assert metrics.distinct_n(["да"], 2) == 0.0


def test_bleu_and_chrf_agree_with_sacrebleu_sanity() -> None:
    same = ["у меня есть большая собака"]
    assert metrics.bleu(same, same) == pytest.approx(100.0)
    assert metrics.chrf(same, same) == pytest.approx(100.0)
    assert metrics.bleu(["кошка"], ["автомобиль едет быстро"]) == pytest.approx(0.0)
    partial = metrics.chrf(["у меня есть собака"], ["у меня есть большая собака"])
    assert 0.0 < partial < 100.0


def test_rouge_l_keeps_cyrillic() -> None:
    assert metrics.rouge_l(["я люблю собак"], ["я люблю собак"]) == pytest.approx(1.0)
    # LCS = "я собак" (2 tokens): P = 2/3, R = 2/3
    assert metrics.rouge_l(["я люблю собак"], ["я не собак"]) == pytest.approx(2 / 3)


def test_persona_usage_matches_inflected_content_words_only() -> None:
    personas = [["У меня есть собака."], ["Мне очень нравится работать врачом."], ["Я люблю музыку."]]
    replies = [
        "Я гуляю с собакой каждый день",  # собак- matches
        "Мне тоже очень нравится это",  # shares only stop words with its fact
        "Сегодня слушал музыку",  # музык- matches
    ]
    assert metrics.persona_usage(replies, personas) == pytest.approx(2 / 3)
    assert metrics.persona_f1(["я люблю музыку"], [["Я люблю музыку.", "нет"]]) == pytest.approx(1.0)


def test_all_metrics_keys_and_mismatch_error() -> None:
    result = metrics.all_metrics(["привет"], ["привет"], [["факт"]])
    assert set(result) >= {"f1", "bleu", "chrf", "rouge_l", "distinct_1", "distinct_2", "persona_usage"}
    assert result["f1"] == 1.0
    with pytest.raises(ValueError, match="2 predictions but 1"):
        metrics.mean_f1(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no predictions"):
        metrics.bleu([], [])
