"""The denoising stage's texts: the same model inputs with words hidden -> the last utterance."""

from __future__ import annotations

import random

import datasets
import pytest

from dialogue.format import FormatSpec
from training.data.denoise import denoising_texts, hide_words


class _Tokenizer:
    """The two attributes ``denoising_texts`` needs, and whitespace tokens for the truncation."""

    unk_token, pad_token = "<unk>", "<pad>"

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": list(range(len(text.split())))}

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        raise AssertionError("no utterance here is long enough to be cut")


SOURCE = "[CONTEXT] Привет, как дела? EOS Хорошо, я работаю учителем в школе. [KNOWLEDGE] Я люблю собак."


def test_format_markers_are_never_hidden() -> None:
    hidden = hide_words(SOURCE, 0.99, random.Random(0), "<unk>")
    assert [w for w in hidden.split() if w != "<unk>"] == ["[CONTEXT]", "EOS", "[KNOWLEDGE]"]


def test_words_are_hidden_at_about_the_rate_and_reproducibly() -> None:
    text = " ".join(f"слово{i}" for i in range(4000))
    hidden = hide_words(text, 0.3, random.Random(1), "<unk>").split()
    assert len(hidden) == 4000 and 0.27 < hidden.count("<unk>") / 4000 < 0.33
    assert hide_words(text, 0.3, random.Random(1), "<unk>").split() == hidden
    assert hide_words(text, 0.3, random.Random(2), "<unk>").split() != hidden
    kept = [(i, w) for i, w in enumerate(hidden) if w != "<unk>"]
    assert all(w == f"слово{i}" for i, w in kept)  # the rest stays in place, unchanged


def test_the_target_is_the_last_utterance_of_the_history() -> None:
    split = datasets.Dataset.from_dict({
        "context": [["Привет, как дела?", "Хорошо, я работаю учителем в школе."], ["Ты любишь собак?"]],
        "source_text": [SOURCE, "[CONTEXT] Ты любишь собак? [KNOWLEDGE] У меня есть кот."],
        "target_text": ["a reply", "another reply"],
    })
    out = denoising_texts(split, FormatSpec(max_utterance_tokens=30), _Tokenizer(), rate=0.3, seed=5)
    assert out["target_text"] == ["Хорошо, я работаю учителем в школе.", "Ты любишь собак?"]
    assert all(len(s.split()) == len(t.split()) for s, t in zip(out["source_text"], split["source_text"]))
    assert "<unk>" in " ".join(out["source_text"])
    assert out["source_text"] == denoising_texts(split, FormatSpec(), _Tokenizer(), rate=0.3, seed=5)["source_text"]
    with pytest.raises(ValueError, match="hidden words"):
        denoising_texts(split, FormatSpec(), _Tokenizer(), rate=1.0, seed=5)
