"""Baselines scored by the same metric code as the models (``python -m training.evaluate --baseline``).

* ``retrieval``: TF-IDF over the train contexts (the last ``RETRIEVAL_TURNS`` utterances);
  the reply of the most similar train context is the answer.
* ``constant``: the most frequent train reply, whatever was said.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer

from dialogue.format import clean_text

RETRIEVAL_TURNS = 2
BASELINES = ("retrieval", "constant")


def _context_text(context: Sequence[str]) -> str:
    return " ".join(context[-RETRIEVAL_TURNS:])


class RetrievalBaseline:
    """Nearest train context by TF-IDF cosine similarity (word uni- and bigrams) -> its reply."""

    def __init__(self, train_contexts: Sequence[Sequence[str]], train_replies: Sequence[str]) -> None:
        if not train_replies:
            raise ValueError("the retrieval baseline needs a non-empty train split")
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        self.matrix = self.vectorizer.fit_transform([_context_text(c) for c in train_contexts])
        self.replies = [clean_text(r) for r in train_replies]

    def predict(self, contexts: Sequence[Sequence[str]], batch_size: int = 256) -> list[str]:
        out: list[str] = []
        for start in range(0, len(contexts), batch_size):
            queries = self.vectorizer.transform([_context_text(c) for c in contexts[start : start + batch_size]])
            # Rows are L2-normalised, so the dot product is the cosine similarity.
            best = (queries @ self.matrix.T).argmax(axis=1).A1
            out += [self.replies[i] for i in best]
        return out


class ConstantBaseline:
    """The most frequent train reply (ties: the first seen)."""

    def __init__(self, train_replies: Sequence[str]) -> None:
        if not train_replies:
            raise ValueError("the constant baseline needs a non-empty train split")
        self.reply = Counter(clean_text(r) for r in train_replies).most_common(1)[0][0]

    def predict(self, contexts: Sequence[Sequence[str]]) -> list[str]:
        return [self.reply] * len(contexts)


def fit_baseline(kind: str, train_split) -> RetrievalBaseline | ConstantBaseline:
    """``kind`` in ``BASELINES``, fitted on a train split with ``context`` and ``reply`` columns."""
    if kind == "retrieval":
        return RetrievalBaseline(list(train_split["context"]), list(train_split["reply"]))
    if kind == "constant":
        return ConstantBaseline(list(train_split["reply"]))
    raise ValueError(f"unknown baseline {kind!r}; known: {', '.join(BASELINES)}")
