"""The earlier-reply ban by words: its n-grams, the persona's facts free once, and the tokens it bans."""

from __future__ import annotations

import torch

from bot.generation.earlier_replies import (
    QUESTION_BACK,
    START,
    TokenWords,
    earlier_ngrams,
    merged,
    repeats_earlier,
)
from bot.generation.rules import KeepOutWords, Requests, RulesProcessor, SaysAWord, SentenceLimit, ending


class Pieces:
    """A tokenizer over a fixed list of pieces, decoded by joining them: the interface TokenWords reads."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def __len__(self) -> int:
        return len(self.pieces)

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [self.pieces.index(text)]}

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(self.pieces[i] for i in ids)

    def batch_decode(self, rows: list[list[int]], skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(row) for row in rows]


PIECES = ["a", " Я", " я", " люблю", " печь", " пироги", " Пироги", " Пир", " пир", "оги", " пирожки", " п",
          ",", " а", " ты", " т", " тебя", "?", " Да", ".", " живу", " в", " Казани", " книги", "ы", " А", " у",
          " тоже", " чем", " меня"]
ID = {piece: i for i, piece in enumerate(PIECES)}


def test_earlier_replies_are_banned_by_their_word_n_grams_and_a_one_word_reply_whole() -> None:
    grams = earlier_ngrams(["Да.", "Я люблю печь пироги!"], 3)
    assert grams == {(START,): {"да"}, (START, "я"): {"люблю"}, ("я", "люблю"): {"печь"}, ("люблю", "печь"): {"пироги"}}
    assert earlier_ngrams(["🙂"], 3) == {}  # no words: nothing to ban


def test_the_persona_s_n_grams_are_free_once() -> None:
    facts = ["Я живу в Казани."]
    grams = earlier_ngrams(["Я живу в Казани, а ты?"], 3, free=facts)
    assert (START, "я") not in grams and ("живу", "в") not in grams  # the fact may be said once more
    assert grams[("в", "казани")] == {"а"} and grams[("казани", "а")] == {"ты"}  # the rest of the reply may not
    # said in two earlier replies, a fact is banned again: it must not answer every question
    twice = earlier_ngrams(["Я живу в Казани.", "Да, я живу в Казани."], 3, free=facts)
    assert twice[("живу", "в")] == {"казани"}
    assert repeats_earlier("я живу в Казани", ["Привет!", "Я живу в Казани."])
    assert not repeats_earlier("Я живу в Казани, а ты?", ["Я живу в Казани."])


def test_a_banned_word_is_banned_in_every_case_and_split_but_a_new_word_is_not() -> None:
    words = TokenWords(Pieces(PIECES))
    grams = earlier_ngrams(["Я люблю печь пироги.", "Я живу в Казани, а ты?"], 3)
    lengths = sorted({len(context) for context in grams})

    def banned(text: str) -> set[str]:
        return {PIECES[i] for i in words.banned(text, grams, lengths)}

    assert banned(" Я люблю печь") == {" пироги", " Пироги", " Пир", " пир", " п"}  # not « пирожки»
    assert banned(" Я люблю печь Пир") == {"оги"}  # «Пир» may not go on to «Пироги»
    assert banned(" Я люблю печь пирожки") == set()
    assert banned(" Я живу в Казани, а") == {" ты", " т"}
    assert banned(" Я люблю книги, а") == set()  # «а ты» after other words is a new n-gram
    assert banned(" Я живу в Казани, а т") == {"ы"}
    assert banned("") == set() and banned(" Я") == {" люблю", " живу"}  # «я» may still go on to «ясно»


def test_the_processor_bans_per_request_after_the_prompt() -> None:
    tokenizer = Pieces(PIECES)
    grams = earlier_ngrams(["Я люблю печь пироги."], 3)
    processor = RulesProcessor([KeepOutWords([grams, {}], tokenizer, TokenWords(tokenizer))], requests=2, reply_start=1,
                               end_ids=[0])
    prompt = ID[" а"]  # the prompt's words are not the reply's
    rows = torch.tensor([[prompt, ID[" люблю"], ID[" печь"]], [prompt, ID[" люблю"], ID[" печь"]]])
    scores = processor(rows, torch.zeros(2, len(PIECES)))
    assert {PIECES[i] for i in torch.nonzero(scores[0] == -float("inf")).flatten().tolist()} == {
        " пироги", " Пироги", " Пир", " пир", " п"}
    assert not torch.isinf(scores[1]).any()  # the other request said nothing before


def test_a_reply_ends_once_it_begins_a_sentence_more_than_its_request_allows() -> None:
    tokenizer = Pieces(PIECES)
    rule = SentenceLimit([1, 2, None], tokenizer)
    said = [ID[" Я"], ID[" живу"], ID[" в"], ID[" Казани"], ID["."]]
    assert not rule.ends(0, said)  # a stop is known to end a sentence only when the next word begins
    assert rule.ends(0, [*said, ID[" Я"]]) and not rule.ends(1, [*said, ID[" Я"]]) and not rule.ends(2, said * 3)
    assert rule.ends(1, [*said, *said, ID[" Я"]])
    # transformers: only the end (here id 0) may follow where the reply ends, whatever else the rules say
    processor = RulesProcessor([rule, KeepOutWords([QUESTION_BACK] * 3, tokenizer, TokenWords(tokenizer))],
                               requests=3, reply_start=1, end_ids=[0])
    rows = torch.tensor([[ID[" а"], *said, ID[" Я"]]] * 3)
    scores = processor(rows, torch.zeros(3, len(PIECES)))
    assert scores[0, 0] == 0 and torch.isinf(scores[0, 1:]).all()
    assert not torch.isinf(scores[1]).any() and not torch.isinf(scores[2]).any()
    assert ending([rule], 0, [*said, ID[" Я"], ID[" живу"]]) == len(said) + 1 and ending([rule], 1, said) is None


def test_a_reply_does_not_end_before_it_says_a_word() -> None:
    """Nothing, or punctuation alone, is no reply: the end (here id 0) is forbidden until a letter or digit came;
    the earlier-reply ban reads words, so «?» after «?» would go out twice."""
    rule = SaysAWord([0], Pieces(PIECES))
    assert rule.forbidden(0, [], None) == [0] and rule.forbidden(0, [ID["?"], ID[","], ID["."]], None) == [0]
    assert not rule.forbidden(0, [ID["?"], ID[" Да"]], None) and not rule.forbidden(0, [ID["ы"]], None)
    opened = SaysAWord([0], Pieces(PIECES), ["Пока!", ""])  # after a whole-sentence opening the model may add nothing
    assert not opened.forbidden(0, [], None) and opened.forbidden(1, [ID["?"]], None) == [0]
    assert SaysAWord.build(Requests(Pieces(PIECES), lambda: None, (0,), None, 1, openings=["Да,"])) is None
    processor = RulesProcessor([rule], requests=2, reply_start=1, end_ids=[0])
    scores = processor(torch.tensor([[ID[" а"], ID["?"]], [ID[" а"], ID[" Да"]]]), torch.zeros(2, len(PIECES)))
    assert torch.isinf(scores[0, 0]) and not torch.isinf(scores[0, 1:]).any() and not torch.isinf(scores[1]).any()


def test_a_question_back_is_kept_out_wherever_it_would_start_but_other_words_after_a_are_not() -> None:
    words = TokenWords(Pieces(PIECES))
    grams = merged(earlier_ngrams(["Я люблю печь пироги."], 3), QUESTION_BACK)
    lengths = sorted({len(context) for context in grams})

    def banned(text: str) -> set[str]:
        return {PIECES[i] for i in words.banned(text, grams, lengths)}

    assert banned(" Я люблю книги, а") == {" ты", " т", " тебя"}
    assert banned(" Я люблю книги. А") == {" ты", " т", " тебя"}  # any case, after any punctuation
    assert banned(" А у") == {" тебя", " т"}  # «А у меня» stays free
    assert banned(" Я люблю книги, а чем") == {" ты", " т", " тебя"}
    assert banned(" Я люблю печь") == {" пироги", " Пироги", " Пир", " пир", " п"}  # the earlier reply's ban stays
    assert banned(" Я люблю книги, и") == set()
