"""Reply-quality metrics: pure functions of strings, independent of any model.

* ``f1``: ConvAI2 unigram F1. Both texts are normalised (lowercase, punctuation removed,
  English articles dropped for ``en``), then the token-overlap F1 is averaged over examples.
* ``bleu`` / ``chrf``: sacreBLEU corpus BLEU and chrF++ (``CHRF(word_order=2)``).
* ``rouge_l``: mean ROUGE-L F-measure. rouge_score's default tokenizer drops every
  non-Latin character, which would score Russian as empty; ``normalize`` is used instead.
* ``distinct_1`` / ``distinct_2``: unique n-grams / all n-grams over all replies together.
* ``persona_usage``: the share of replies that use the persona. A reply uses it when it
  shares a *content word* with some fact: a normalised token of 4+ characters that is not
  a stop word, compared by its first 5 characters so that Russian inflections match
  ("собака" / "собаку"). ``persona_f1`` is the mean over replies of the best unigram F1
  against a single fact.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import sacrebleu
from rouge_score import rouge_scorer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}«»—–…“”„‘’]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
RUSSIAN_STOP_WORDS = frozenset(
    "меня тебя тебе мене себя себе него нему неё нее ними этот эта это эти этого этой этом того тому "
    "такой такая такое также тоже очень когда потому чтобы если было были была будет будут есть "
    "сейчас здесь там тут только можно нужно могу может хочу хочешь просто вообще ещё еще уже всегда "
    "какой какая какие какое который которая которые свой своя свои своё кого чего чем нибудь сама "
    "самый много мало больше меньше всех всего всем люблю нравится привет спасибо пожалуйста".split()
)
_CONTENT_MIN_CHARS = 4
_STEM_CHARS = 5


def normalize(text: str, language: str = "ru") -> list[str]:
    """Lowercase, no punctuation, (English) no articles; whitespace tokens."""
    text = _PUNCTUATION.sub(" ", text.lower().replace("ё", "е"))
    if language == "en":
        text = _ARTICLES.sub(" ", text)
    return text.split()


def unigram_f1(prediction: str, reference: str, language: str = "ru") -> float:
    pred, ref = normalize(prediction, language), normalize(reference, language)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def mean_f1(predictions: Sequence[str], references: Sequence[str], language: str = "ru") -> float:
    _check(predictions, references)
    return sum(unigram_f1(p, r, language) for p, r in zip(predictions, references)) / len(predictions)


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    _check(predictions, references)
    return sacrebleu.corpus_bleu(list(predictions), [list(references)]).score


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """chrF++ (character n-grams plus word uni- and bigrams)."""
    _check(predictions, references)
    return sacrebleu.metrics.CHRF(word_order=2).corpus_score(list(predictions), [list(references)]).score


class _KeepCyrillicTokenizer:
    def __init__(self, language: str) -> None:
        self.language = language

    def tokenize(self, text: str) -> list[str]:
        return normalize(text, self.language)


def rouge_l(predictions: Sequence[str], references: Sequence[str], language: str = "ru") -> float:
    _check(predictions, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_KeepCyrillicTokenizer(language))
    scores = [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)]
    return sum(scores) / len(scores)


def distinct_n(predictions: Sequence[str], n: int, language: str = "ru") -> float:
    ngrams: list[tuple[str, ...]] = []
    for text in predictions:
        tokens = normalize(text, language)
        ngrams += [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else 0.0


def content_stems(text: str, language: str = "ru") -> set[str]:
    stop = ENGLISH_STOP_WORDS if language == "en" else RUSSIAN_STOP_WORDS
    return {
        token[:_STEM_CHARS]
        for token in normalize(text, language)
        if len(token) >= _CONTENT_MIN_CHARS and token not in stop
    }


def persona_usage(predictions: Sequence[str], personas: Sequence[Sequence[str]], language: str = "ru") -> float:
    _check(predictions, personas)
    used = 0
    for reply, facts in zip(predictions, personas):
        reply_stems = content_stems(reply, language)
        used += any(reply_stems & content_stems(fact, language) for fact in facts)
    return used / len(predictions)


def persona_f1(predictions: Sequence[str], personas: Sequence[Sequence[str]], language: str = "ru") -> float:
    _check(predictions, personas)
    best = [max((unigram_f1(p, fact, language) for fact in facts), default=0.0) for p, facts in zip(predictions, personas)]
    return sum(best) / len(best)


def all_metrics(
    predictions: Sequence[str], references: Sequence[str], personas: Sequence[Sequence[str]], language: str = "ru"
) -> dict[str, float]:
    """Every metric above, keyed as in ``metrics.json``."""
    return {
        "f1": mean_f1(predictions, references, language),
        "bleu": bleu(predictions, references),
        "chrf": chrf(predictions, references),
        "rouge_l": rouge_l(predictions, references, language),
        "distinct_1": distinct_n(predictions, 1, language),
        "distinct_2": distinct_n(predictions, 2, language),
        "persona_usage": persona_usage(predictions, personas, language),
        "persona_f1": persona_f1(predictions, personas, language),
        "avg_reply_words": sum(len(p.split()) for p in predictions) / len(predictions),
    }


def _check(predictions: Sequence[object], references: Sequence[object]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score")
