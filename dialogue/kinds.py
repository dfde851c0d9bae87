"""What a persona fact says beyond its own words: kinds of things, and ways of living that deny some.

Lemmas alone settle a question only where it shares words with a fact. People ask «Ты любишь пиво?» of a bot whose
persona says «Я не пью алкоголь.», and «Ты ешь мясо?» of a vegan; a small model answers those as it likes. This is
the common knowledge that persona-chat facts lean on most (food, drink, smoking, pets, music, sport, children), written
as data:

* ``KINDS``: a general thing -> the lemmas of its kinds. A fact that denies the general thing denies each kind
  («Я не пью алкоголь» -> «Ты любишь пиво?»: no); a fact that affirms a kind affirms the general thing («Я обожаю
  шашлык» -> «Ты ешь мясо?»: yes). Not the other way round: «Я люблю спорт» does not say which sport.
* ``DENIES``: a way of living -> the general things it denies («веган» -> meat, fish, milk, eggs).
"""

from __future__ import annotations

from functools import cache

from dialogue.russian import content_lemmas, is_negative, lemma

KINDS: dict[str, frozenset[str]] = {
    "мясо": frozenset({
        "шашлык", "колбаса", "котлета", "стейк", "сосиска", "сарделька", "бургер", "гамбургер",
        "сало", "пельмень", "курица", "свинина", "говядина", "баранина", "телятина", "ветчина", "бекон", "фарш",
        "шаурма", "бифштекс", "отбивной", "холодец", "окорок", "курятина", "индейка", "утка", "гусь", "барбекю",
    }),
    "рыба": frozenset({"селёдка", "лосось", "сёмга", "форель", "тунец", "икра"}),
    "молоко": frozenset({"сыр", "творог", "кефир", "йогурт", "сметана", "масло", "мороженое"}),
    "яйцо": frozenset({"яичница", "омлет"}),
    "алкоголь": frozenset({
        "пиво", "вино", "водка", "коньяк", "виски",
        "шампанское", "ром", "текила", "сидр", "ликёр", "джин", "портвейн", "самогон", "бухать", "пьянка",
    }),
    "курить": frozenset({"покурить", "сигарета", "сигара", "кальян", "вейп", "табак"}),
    "сладкое": frozenset({
        "торт", "конфета", "шоколад", "пирожное", "десерт", "печенье", "мороженое",
    }),
    "спорт": frozenset({
        "футбол", "хоккей", "теннис", "бег", "плавание", "бокс", "йога", "волейбол",
        "баскетбол", "фитнес", "лыжи", "велосипед", "тренажёрный", "качалка", "борьба", "карате", "гимнастика",
    }),
    "инструмент": frozenset({
        "гитара", "пианино", "фортепиано", "скрипка", "барабан", "синтезатор", "саксофон", "флейта",
        "баян", "аккордеон", "балалайка", "виолончель", "укулеле", "труба",
    }),
    "животное": frozenset({
        "собака", "пёс", "щенок", "кошка", "кот", "котёнок", "попугай", "хомяк", "рыбка",
        "черепаха", "кролик", "свинка", "шиншилла", "крыса", "лошадь",
    }),
    "ребёнок": frozenset({"сын", "дочь", "дочка", "сынок", "сыночек", "доченька", "близнец", "двойня", "двойняшка"}),
}
"""A general thing -> its kinds, as words; matched by their lemmas (``lemmas``)."""

NAMES: dict[str, tuple[str, ...]] = {
    "мясо": ("мясной",), "рыба": ("рыбный",), "молоко": ("молочный", "молочка"), "яйцо": (),
    "алкоголь": ("алкогольный", "спиртное", "спиртной", "выпивка"), "курить": ("курение",),
    "сладкое": ("сладкий", "сладость"), "спорт": ("спортивный",), "инструмент": (), "животное": ("питомец", "живность", "зверь"),
    "ребёнок": ("детки", "детишки"),
}
"""Other words for each general thing: a fact that denies one of them denies every kind («Я не пью спиртного»)."""

DENIES: dict[str, tuple[str, ...]] = {
    "веган": ("мясо", "рыба", "молоко", "яйцо"),
    "веганка": ("мясо", "рыба", "молоко", "яйцо"),
    "вегетарианец": ("мясо", "рыба"),
    "вегетарианка": ("мясо", "рыба"),
    "трезвенник": ("алкоголь",),
    "непьющий": ("алкоголь",),
    "некурящий": ("курить",),
}
"""A way of living -> the general things it denies."""


@cache
def lemmas() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]], dict[str, tuple[str, ...]], dict[str, str]]:
    """By lemma (as ``dialogue.russian.lemma`` reads words: pymorphy3's «вегана» for «веган»): each general thing's
    kinds and names, each way of living's denied things, and the general thing of each kind or name."""
    names = {lemma(general): frozenset(map(lemma, (general, *NAMES[general]))) for general in KINDS}
    kinds = {lemma(general): frozenset(map(lemma, words)) | names[lemma(general)] for general, words in KINDS.items()}
    denies = {lemma(way): tuple(map(lemma, generals)) for way, generals in DENIES.items()}
    return kinds, names, denies, {kind: general for general, members in kinds.items() for kind in members}


def denied(fact: str) -> frozenset[str]:
    """The lemmas of what ``fact`` denies through ``KINDS`` and ``DENIES``: each kind of a general thing it denies
    («Я не пью алкоголь» -> «пиво», «вино» …), or every kind of what its way of living rules out («Я веган»). Not the
    fact's own words: those settle a question by themselves."""
    kinds, names, denies, general_of = lemmas()
    said = content_lemmas(fact)
    if is_negative(fact):
        generals = {general_of[word] for word in said if word in general_of and word in names[general_of[word]]}
    else:
        generals = {general for way in said & denies.keys() for general in denies[way]}
    return frozenset().union(*(kinds[general] for general in generals)) - said if generals else frozenset()


def affirmed(fact: str) -> frozenset[str]:
    """The names of the general things a positive ``fact`` affirms by naming a kind of them («Я обожаю шашлык» ->
    «мясо», «мясной»; «У меня две кошки» -> «животное», «питомец» …)."""
    if is_negative(fact):
        return frozenset()
    _, names, _, general_of = lemmas()
    said = content_lemmas(fact)
    return frozenset().union(*(names[general_of[word]] for word in said if word in general_of)) - said
