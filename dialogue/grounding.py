"""What a reply must open with, decided from the persona, the dialogue and what the bot knows of the user.

A small causal model asked «У тебя есть дети?» with «У меня нет детей.» in its persona mostly answers «Да»,
and it cannot look further back than its input window. Where the facts settle the answer, the reply's
opening is fixed here and the model goes on from it (``FormatSpec.build_input(opening=…)``):

* a yes/no question about the bot that its persona, or what it said earlier in the dialogue, settles:
  «Да,» or «Нет,» by the fact's polarity (``settle``), also through what the fact implies (``dialogue.kinds``:
  «Я веган.» answers «Ты ешь мясо?» with no);
* a question about the bot that takes for granted what its persona denies («Сколько у тебя детей?» of «У меня нет
  детей.»): that fact;
* a question about the bot that only an earlier reply of its own answers (it invented it): that reply's
  fact, so that it keeps to what it invented; one its persona answers and it said before: that fact again (its
  earlier replies are kept out of a new one);
* its name, where neither the persona nor an earlier reply gives one: a name of its own, the same for the same
  persona and fitting the persona's gender where the facts show it (``own_name``);
* a question back («Я юрист. А ты?», «Мне 22, а тебе?», «Нет, а у тебя?»): the bot's fact of the same kind
  («Я хирург.»), or of what the bot had asked and the user answered, never a yes or a no (``in_kind``);
* a question about the user («Как меня зовут?», «Где я живу?», «У меня есть собака?»): the user's fact
  said back to them («Тебя зовут Олег.»), or «Да,» / «Нет,»; never told, «Не знаю.» and the question put back («Как
  тебя зовут?»);
* «Как дела?»: «Хорошо,» (after a greeting back, if the user greeted), so that the reply answers it first;
* a greeting that is the whole message: the same greeting («Добрый день!»); a goodbye: the same goodbye («Пока!», «До
  свидания!»).

Everything else is the model's own choice (no opening).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

from dialogue.kinds import affirmed, denied
from dialogue.memory import (
    GENERIC_LEMMAS, HEDGES, SINGLE_VALUED, classify, self_statements, stated_age, typed_sentences,
)
from dialogue.russian import (
    FIRST_PERSON, SECOND_PERSON, content_lemmas, is_negative, is_question, lemma, morph, numbers, parse, sentences,
    to_first_person, to_second_person, undecorated, words,
)

YES, NO, GOODBYE, NOT_KNOWN = "Да,", "Нет,", "Пока!", "Не знаю."
_PLAIN_QUESTION_WORDS = 8
"""A longer question about the user is a run-on message («А я блогером … А чем увлекаешься ещё?»), not one to answer
from what they told."""
_MEMORY_SLOTS = frozenset({"name", "age", "city", "job", "family", "pets", "likes"})
"""What a question about the user may ask that only they can have told."""
WH_WORDS = frozenset({"кто", "что", "где", "когда", "как", "какой", "какая", "какое", "какие", "каких", "каким",
                      "почему", "зачем", "сколько", "куда", "откуда", "чем", "кем", "чей", "чья", "чьё",
                      "кого", "кому", "чему", "каков", "какую", "какого", "какой-то", "отчего"})
_FAREWELL = re.compile(
    r"(^|[\s,.!])(до свидания|до встречи|до завтра|спокойной ночи|всего доброго|всего хорошего|бывай|увидимся|"
    r"мне пора|мне нужно идти|мне надо идти|я пошла|я пошёл|я пошел|прощай)([\s,.!)]|$)"
    r"|(^|[\s,.!])пока([,.!)…-]|\s*$)",  # «пока» as a goodbye ends its phrase: «Я пока работаю» is not one
    re.IGNORECASE,
)
_QUESTION_SLOTS = {
    "name": {"звать", "имя", "зваться"},
    "age": {"возраст", "год", "лето"},
    "city": {"жить", "город", "откуда", "родиться", "проживать"},
    "job": {"работать", "работа", "профессия", "кем", "заниматься", "специальность", "учиться"},
    "family": {"семья", "ребенок", "дети", "муж", "жена", "брат", "сестра", "женатый", "замужем", "родитель"},
    "pets": {"животное", "питомец", "собака", "кошка", "кот", "пес", "попугай", "хомяк", "рыбка"},
    "likes": {"любить", "нравиться", "хобби", "увлекаться", "обожать", "любимый"},
    "plans": {"собираться", "планировать", "план", "мечтать", "хотеть"},
}
_QUESTION_CUES = frozenset({"звать", "имя", "город", "возраст", "год", "работа", "профессия", "помнить", "знать",
                            "напомнить", "сказать", "говорить"})
"""Words of a question that say what kind of fact it asks for, not which one."""
_MEMORY_LEAD = re.compile(r"^\W*(а\s+)?(ты\s+)?(помнишь|знаешь|не забыл[аи]?|напомни|скажи|угадай)\b[,\s]*", re.IGNORECASE)
"""«Ты помнишь, как меня зовут?» asks what «Как меня зовут?» asks."""
_ABOUT_ME = r"(?:обо|про|о)\s+(?:мне|меня)"
_KNOW = r"(?:знаешь|знаете|помнишь|помните|запомнил\w*)"
_ALL_ABOUT = re.compile(rf"(?:что|чего)\s+(?:(?:ты|вы)\s+)?(?:{_KNOW}\s+{_ABOUT_ME}|{_ABOUT_ME}\s+(?:(?:ты|вы)\s+)?{_KNOW})",
                        re.IGNORECASE)
"""«Что ты знаешь обо мне?», «Что ты про меня знаешь?», «Что вы обо мне помните?»."""
_HOW_ARE_YOU = re.compile(
    r"^\W*(?:(?:привет\w*|здравствуй\w*|добр\w+\s+(?:день|вечер|утро))\W+)?(?:а\s+|ну\s+|и\s+)*"
    r"(?:(?:у\s+)?(?:тебя|вас)\s+)?(?:как\s+(?:(?:у\s+)?(?:тебя|вас)\s+)?(?:твои\s+|ваши\s+)?"
    r"(?:дела|делишки|жизнь|поживаешь|поживаете|настроение|настрой)(?:\s+(?:у\s+)?(?:тебя|вас))?"
    r"|как\s+(?:ты|вы|сам|сама)|(?:ты|вы)\s+как|как\s+оно)\W*$",
    re.IGNORECASE,
)
"""«Как дела?», «Как ты?», «А у тебя как настроение?» as a whole sentence; not «Как ты относишься к …?»."""
_PLEASED = re.compile(r"приятно познакомиться|очень приятно", re.IGNORECASE)
_GREETING = re.compile(r"^\W*(привет\w*|здравствуй\w*|добрый\s+(?:день|вечер)|доброе\s+утро|хай|здорово)\b", re.IGNORECASE)
FINE = "Хорошо,"
_QUESTION_BACK = re.compile(
    r"(?:^|(?<=[\s,.!?…)(]))(?:а|и|ну\s+а|ну)\s+(?:у\s+)?(?:ты|тебя|тебе|вы|вас|вам)(?:\s+(?:сам|сама|как))?[\s?!.)]*$",
    re.IGNORECASE,
)
"""A bare question back ending a message, with or without its «?»: «А ты?», «а у тебя», «И вам?», «а ты сам?»."""


def is_greeting(message: str) -> bool:
    """Whether ``message`` is a greeting and nothing else («Добрый день!», «Привет)»)."""
    greeted = _GREETING.match(message)
    return bool(greeted) and greeted.end() == len(message.rstrip(" !.)"))


def is_farewell(message: str) -> bool:
    """Whether the user says goodbye («Ну ладно, мне пора. Пока!»); «пока» as «while» («пока не знаю») is not."""
    return bool(_FAREWELL.search(message.strip()))


_GOODBYES_IN_KIND = (("до свидания", "До свидания!"), ("до встречи", "До встречи!"), ("до завтра", "До завтра!"),
                     ("спокойной ночи", "Спокойной ночи!"), ("всего доброго", "Всего доброго!"),
                     ("всего хорошего", "Всего хорошего!"), ("увидимся", "Увидимся!"))


def farewell_in_kind(message: str) -> str:
    """The goodbye that answers ``message``'s: «До свидания!» to «до свидания», «Спокойной ночи!» to «спокойной ночи»,
    else «Пока!»."""
    lowered = message.lower()
    return next((goodbye for said, goodbye in _GOODBYES_IN_KIND if said in lowered), GOODBYE)


def last_question(message: str) -> str | None:
    """The message's last sentence if it is a question (a smiley after it is no sentence of its own)."""
    found = [sentence for sentence in sentences(message) if words(sentence)]
    return found[-1] if found and is_question(found[-1]) else None


def is_yes_no(question: str) -> bool:
    """A question answered by yes or no: no question word (in any form: «в каком городе»), no «или»."""
    found = words(question)
    return bool(found) and not ({lemma(w) for w in found} | set(found)) & WH_WORDS and "или" not in found


def addressee(question: str) -> str | None:
    """Who the question is about: ``"bot"`` («ты», «у тебя», a verb in the second person: «Куришь?»), ``"user"``
    («я», «меня», «мой», «Помню?»), or None («Есть дети?», «Как дела?»)."""
    found = set(words(question))
    if found & SECOND_PERSON:
        return "bot"
    if found & FIRST_PERSON:
        return "user"
    persons = {person for word in found if (person := parse(word).tag.person)}  # «Куришь?», «Кем работаешь?»
    return "bot" if "2per" in persons else "user" if "1per" in persons else None


def asked_of(question: str) -> str | None:
    """Whom ``question`` asks about: its ``addressee``, and the other one where a yes/no question names no one
    («Есть дети?», «Женат?»: in a chat of two, asked of the other one)."""
    about = addressee(question)
    return "bot" if about is None and is_yes_no(question) else about


def question_slot(question: str) -> str | None:
    lemmas = {lemma(w) for w in words(question)} | set(words(question))
    for slot, cues in _QUESTION_SLOTS.items():
        if lemmas & cues:
            return slot
    return None


def settle(question: str, facts: Sequence[str]) -> bool | None:
    """True (yes) or False (no) if one of ``facts`` (first person, the answering side's) settles the yes/no
    ``question`` put to that side; None if none does. The fact must share what the question is about (not
    only a common verb: «Ты любишь кошек?» is not settled by «Я люблю собак»); the answer is yes when the
    fact and the question agree in polarity («Я не курю» settles «Ты куришь?» with no). Failing that, what a fact
    implies (``dialogue.kinds``: «Я не пью алкоголь» answers «Ты любишь пиво?» with no, «У меня есть кошка» answers
    «У тебя есть домашние животные?» with yes). A single-valued slot settles a question about another value:
    «Я живу в Казани» answers «Ты живёшь в Москве?» with no."""
    found = settling_fact(question, facts)
    return None if found is None else found[0]


def settling_fact(question: str, facts: Sequence[str], *, statement: bool = False) -> tuple[bool, str] | None:
    """``settle``'s answer and the fact that gives it. A ``statement`` (the bot's own clause, read as the question
    whether it holds) is settled only by a fact it shares a thing with, not through the single-valued slot: «Я живу с
    мамой» says nothing against «Я живу в Казани»."""
    asked = to_first_person(question)
    about = content_lemmas(asked)
    if not about:
        return None
    slot = question_slot(asked) or classify(asked)
    readings = [(part, fact) for fact in facts for part in fact_parts(fact)]
    if (values := _values(asked)) and not is_negative(asked):  # «Тебе 30 лет?» of «Мне двадцать восемь лет.»: no
        for part, fact in readings:
            given = _values(part)
            if (named_both := given.keys() & values.keys()) and not is_negative(part):
                return all(not given[k].isdisjoint(values[k]) for k in named_both), fact
    best: tuple[float, str, str] | None = None
    for part, fact in readings:
        said = content_lemmas(part)
        if not _about_the_same(about, said, dislike=is_negative(part), statement=statement):
            continue
        part_slot = classify(part)
        if slot != part_slot and "other" not in (slot, part_slot):
            continue  # «У тебя есть дети?» is not settled by «Я люблю детей»
        coverage = len(about & said) / len(about)
        if best is None or coverage > best[0]:
            best = (coverage, part, fact)
    if best is not None:
        return is_negative(best[1]) == is_negative(asked), best[2]
    for part, fact in readings:
        if about & denied(part):
            return is_negative(asked), fact
        if about & affirmed(part):
            return not is_negative(asked), fact
    if slot in SINGLE_VALUED and not is_negative(asked) and not statement:
        for part, fact in readings:
            if classify(part) == slot and not is_negative(part):
                return False, fact  # another value of a single-valued slot
    return None


def fact_parts(fact: str) -> list[str]:
    """``fact`` read by its parts, each with its own polarity: a clause that speaks of the speaker or holds a negation
    begins a part («Я живу в Москве, но не люблю шум.»: «Я живу в Москве», «но не люблю шум»; «У меня есть кошка,
    которая не любит собак.»: the cat's dislike is not the speaker's), any other clause goes on with the part before
    it («Я не люблю, когда люди опаздывают.» is one)."""
    parts: list[str] = []
    for _, clause in _clauses(fact):
        found = words(clause)
        if parts and not (is_negative(clause) or _of_itself(found)):
            parts[-1] = f"{parts[-1]}, {clause.strip()}"
        else:
            parts.append(clause.strip())
    return parts or [fact]


def _about_the_same(about: frozenset[str], said: frozenset[str], dislike: bool = False, statement: bool = False) -> bool:
    """Whether a fact (its lemmas ``said``) is about what a question (``about``) asks: they share more than a common
    verb, or all the question says («Ты любишь читать?» of «Я люблю читать.»); and where both name things, one of
    them («Ты пьёшь чай?» is not settled by «Я не пью алкоголь.», «Ты любишь плавать в море?» is by «Я не умею
    плавать.»)."""
    shared = about & said
    if not (shared - GENERIC_LEMMAS or shared == about and (not statement or about == said)):
        return False
    asked, named = ({word for word in lemmas if _is_thing(word)} for lemmas in (about, said))
    if asked and named and not asked & shared:
        return False
    # What is done with the thing: «Я лечу собак» does not settle «Ты любишь собак?», nor «Я люблю собак» «У тебя
    # есть собака?» (but «Я боюсь собак» does, with no); a liking settles using («Я люблю пиво» -> «Ты пьёшь пиво?»).
    asked_acts, said_acts = ({word for word in lemmas if _is_act(word)} for lemmas in (about, said))
    if said_acts and not asked_acts:
        return said_acts <= _STATES or (said_acts == {"любить"} and dislike)
    if asked_acts and not said_acts:  # «У меня есть собака» says «Ты любишь собак?», «У меня нет детей» does not
        return not dislike
    return not (asked_acts and said_acts) or bool(asked_acts & said_acts) or said_acts == {"любить"}


_STATES = frozenset({"работать", "жить", "учиться", "служить", "проживать", "состоять", "звать"})
"""Verbs of what one is, not of what one does with a thing: «Я работаю учителем» settles «Ты учитель?»."""


def _is_thing(word: str) -> bool:
    return word.isdigit() or parse(word).tag.POS in ("NOUN", "ADJF", "ADJS", "NUMR")


def _is_act(word: str) -> bool:
    return parse(word).tag.POS in ("INFN", "VERB")


def contradicted_fact(text: str, facts: Sequence[str]) -> str | None:
    """The fact of ``facts`` (the bot's persona and what it said of itself) that ``text`` says the opposite of,
    clause by clause: «Я работаю медсестрой, но люблю зиму.» of «Я не люблю зиму.», «А я люблю собак.» of «Я боюсь
    собак.», «Я ем мясо.» of «Я веган.» (``dialogue.kinds``), «Я живу в Москве.» of «Я живу в Казани.»; None if it
    contradicts none. Only short clauses the bot says of itself count («я», «у меня», a verb in the first person),
    not «Мой брат курит», «А ты?» or a hedge («Я бы хотел …»)."""
    return next((fact for _, clause in _clauses(text) if (fact := _clause_contradicts(clause, facts))), None)


def consistent_part(reply: str, facts: Sequence[str]) -> str:
    """``reply`` up to its first clause that contradicts ``facts``, ended with a stop; "" if nothing of it is left
    but a yes or a no («Да, я люблю собак.» of «Я боюсь собак.»): the reply has to be written again."""
    for start, clause in _clauses(reply):
        if _clause_contradicts(clause, facts):
            kept = cut_before(reply, start)
            return kept if set(words(kept)) - EMPTY_WORDS else ""
    return reply


def cut_before(text: str, start: int) -> str:
    """``text`` up to ``start`` (where a clause that goes begins), ended with a stop; "" if nothing is left."""
    kept = text[:start].rstrip(" ,;:—-")
    return kept if not kept or kept[-1:] in ".!?…)" else kept + "."


_CLAUSE = re.compile(r"[^,;:)(.!?…]+(?:[.!?…]+)?")
EMPTY_WORDS = frozenset({"да", "нет", "ну", "а", "и", "но", "привет", "ой", "ага", "хорошо", "конечно"})
"""Words that alone say nothing a reply can be left with."""
_CLAUSE_WORDS = 8
"""A longer clause is a story, where a negation may belong to anything in it: it is not read."""


def _clauses(text: str) -> list[tuple[int, str]]:
    """The clauses of ``text`` and where each begins: cut at commas and stops, and where a message typed without
    stops goes on with a new sentence (``typed_sentences``)."""
    found = []
    for match in _CLAUSE.finditer(text):
        for part in typed_sentences(match.group()) if words(match.group()) else ():
            found.append((text.find(part, match.start()), part))
    return found


def _clause_contradicts(clause: str, facts: Sequence[str]) -> str | None:
    found = words(clause)
    if (is_question(clause) or len(found) > _CLAUSE_WORDS or set(found) & HEDGES
            or not _of_itself(found)):
        return None
    said = f" {' '.join(found)} "
    facts = [fact for fact in facts if said not in f" {' '.join(words(fact))} "]  # a fact that says the clause itself
    settled = settling_fact(clause, facts, statement=True)
    if settled is not None and not settled[0]:
        return settled[1]
    return _other_value(clause, facts)


_SELF = frozenset({"я", "меня", "мне", "мной"})


def _of_itself(found: list[str]) -> bool:
    if set(found) & SECOND_PERSON:
        return False
    return bool(set(found) & _SELF) or any({"VERB", "1per", "sing"} in parse(word).tag for word in found)


def _other_value(clause: str, facts: Sequence[str]) -> str | None:
    """The fact that gives another value of a single-valued slot the clause names: another town («Я живу в Москве.»
    of «Я живу в Казани.»), another job («Я работаю водителем.» of «Я работаю учителем.»), another name or age."""
    said = _values(clause)
    if not said or is_negative(clause):
        return None
    for fact in facts:
        for part in fact_parts(fact):
            given = _values(part)
            if not is_negative(part) and given.keys() & said.keys() and all(
                    given[k].isdisjoint(said[k]) for k in given.keys() & said.keys()):
                return fact
    return None


def _values(text: str) -> dict[str, set[str]]:
    """The town, the job, the name and the age a first-person text names: {"city": {"казань"}, "job": {"учитель"},
    "age": {"28"}}; a name only of «меня» («Меня зовут Женя», not «Моего сына зовут Петя»), an age in digits or words
    («Мне двадцать восемь лет» is the «28» of «А я 20 лет»)."""
    found = words(text)
    parsed = [parse(word) for word in found]
    verbs = {p.normal_form for p in parsed}
    after = list(zip([None, *parsed], parsed))
    values = {"city": {word.normal_form for previous, word in after if "Geox" in word.tag and previous is not None
                       and previous.word in ("в", "во")} if verbs & {"жить", "проживать"} else set(),
              "job": {word.normal_form for previous, word in after if {"NOUN", "anim", "ablt"} in word.tag
                      and (previous is None or "PREP" not in previous.tag)} if "работать" in verbs else set(),
              "name": {word.normal_form for word in parsed if "Name" in word.tag}
              if "звать" in verbs and "меня" in found else set(),
              "age": {str(age)} if (age := stated_age(text)) is not None else set()}
    return {slot: found for slot, found in values.items() if found}


def denying_fact(question: str, facts: Sequence[str]) -> str | None:
    """The fact of ``facts`` that denies what a question takes for granted: «Сколько у тебя детей?» of «У меня нет
    детей.», «Какое пиво ты любишь?» of «Я не пью алкоголь.» (``dialogue.kinds``)."""
    asked = to_first_person(question)
    things = {word for word in content_lemmas(asked) - GENERIC_LEMMAS - _QUESTION_CUES if _is_thing(word)}
    for fact in facts:
        if any(things & (denied(part) | (content_lemmas(part) if is_negative(part) else frozenset()))
               for part in fact_parts(fact)):
            return fact
    return None


def recall(question: str, facts: Sequence[str]) -> str | None:
    """The fact of ``facts`` that a wh-question asks for: the one sharing most of what it is about
    («Как зовут моего хомяка?» -> «У меня есть хомяк Бублик.»), else the newest of its slot."""
    asked = to_first_person(question)
    about = content_lemmas(asked) - GENERIC_LEMMAS - _QUESTION_CUES
    scored = [(len(about & content_lemmas(fact)), i) for i, fact in enumerate(facts)]
    if scored and max(scored)[0] > 0:
        return facts[max(scored)[1]]
    slot = question_slot(asked)
    for fact in reversed(facts):
        if slot is not None and classify(fact) == slot:
            return fact
    return None


def reply_opening(persona: Sequence[str], history: Sequence[str], partner: Sequence[str] = ()) -> str:
    """The words the reply to ``history`` (oldest first, the user's turn last) must open with; "" for none.
    ``persona``: the bot's facts; ``partner``: what it knows of the user (their own first-person facts)."""
    if not history:
        return ""
    message = history[-1]
    greeted = _GREETING.match(message)
    hello = greeted.group(1).capitalize() if greeted else ""
    told_name = user_name([f.text for f in self_statements(message)])
    pleased = f"{hello + '! ' if hello else ''}Приятно познакомиться, {told_name}!" if told_name and not _PLEASED.search(
        " ".join(history)) else ""  # once a dialogue, before anything else: «Я Саша, а ты?» -> «…, Саша! Меня зовут …»
    if (told := question_back(message)) is not None:
        return " ".join(filter(None, [pleased, in_kind(told, history, named(persona, said_of_itself(history)))]))
    question = last_question(message)
    if question is None:
        name = user_name(partner)
        if is_farewell(message):
            goodbye = farewell_in_kind(message)
            return f"{goodbye[:-1]}, {name}!" if name else goodbye
        if pleased:
            return pleased
        # A greeting is returned in kind («Добрый день!», «Здравствуйте!»), a returning user's by name; one that opens
        # a message mid-dialogue only when the message is nothing else («Здорово, я учитель» is no greeting).
        only_greeting = is_greeting(message)
        if greeted and name and (len(history) == 1 or only_greeting):
            return f"{hello}, {name}!"
        return f"{hello}!" if only_greeting else ""
    if is_how_are_you(question):
        if pleased or not greeted:
            return " ".join(filter(None, [pleased, FINE]))
        name = user_name(partner)
        return f"{hello}{f', {name}' if name else ''}! {FINE}"
    return " ".join(filter(None, [pleased, _answer_opening(question, persona, history, partner)]))


def _answer_opening(question: str, persona: Sequence[str], history: Sequence[str], partner: Sequence[str]) -> str:
    """The opening of the answer to ``question``, the user's last sentence (not «Как дела?»)."""
    if _ALL_ABOUT.search(question):
        return to_second_person(" ".join(partner[-3:])) if partner else ""
    question = _MEMORY_LEAD.sub("", question) or question
    about = asked_of(question)
    if about == "bot":
        invented = said_of_itself(history)
        if is_yes_no(question):
            answer = settle(question, list(persona) + invented)
            return "" if answer is None else YES if answer else NO
        if (fact := denying_fact(question, persona)) is not None:
            return _said_again(fact)
        answers = answering_facts(question, persona)
        if (fact := recall(question, invented)) and not answers:
            return _said_again(fact)
        if fact := next((fact for fact in answers if _said_before(fact, history)), None):
            return _said_again(fact)  # the earlier replies are kept out of a new one: asked, the bot says it again
        if question_slot(to_first_person(question)) == "name" and recall(question, persona) is None:
            return named(persona, invented)[-1]
        return ""
    if about == "user":
        # What the bot knows of the user, and what they told in this dialogue (the memory may not have it yet)
        # A long run-on message («А я блогером … А чем увлекаешься ещё?») is no plain question about the user.
        plain = len(words(question)) <= _PLAIN_QUESTION_WORDS and not any(
            {"VERB", "2per"} in parse(word).tag for word in words(question))
        told = [fact.text for message in history[-1::-2][::-1] for fact in self_statements(message)] if plain else []
        known = list(dict.fromkeys([*partner, *told]))
        slot = question_slot(to_first_person(question))
        if is_yes_no(question):
            found = settling_fact(question, known)
            if found is not None:
                said = to_second_person(found[1])
                return f"{YES if found[0] else NO} {said[:1].lower()}{said[1:]}"
        elif slot == "name" and _asks_own_name(question) and (name := user_name(known)):
            return f"Тебя зовут {name}."  # «А меня Саша.» said back is «Тебя Саша.»
        elif (fact := recall(question, known)) is not None:
            return to_second_person(fact)
        if plain and slot in _MEMORY_SLOTS:  # never told: the bot does not guess («Как меня зовут?» -> «Я Пётр.»), it asks
            asked = to_second_person(re.sub(r"^\W*(?:(?:а|и|ну)\s+)+", "", question, flags=re.IGNORECASE))
            return f"{NOT_KNOWN} {asked[:1].upper()}{asked[1:]}"
    return ""


def _asks_own_name(question: str) -> bool:
    """«Как меня зовут?», «Какое моё имя?»; not «Как зовут мою собаку?» (another's name)."""
    found = set(words(question))
    return "меня" in found or "имя" in found and bool(found & {"моё", "мое"})


def answering_facts(message: str, persona: Sequence[str]) -> list[str]:
    """The persona facts that ``message``'s wh-question about the bot asks for, where some plainly do, in the persona's
    order: those sharing most of what the question names («Что ты выращиваешь?» -> «У меня огород, я выращиваю
    помидоры.»), or, for a question naming only what it asks («Кем ты работаешь?», «Сколько тебе лет?»), those of that
    kind («Я на пенсии.», «Раньше я работала бухгалтером.»); none for any other message (a yes/no question, «Как
    дела?», a question back, one the persona does not answer)."""
    question = last_question(message)
    if question is None or question_back(message) is not None or is_how_are_you(question):
        return []
    question = _MEMORY_LEAD.sub("", question) or question
    if asked_of(question) != "bot" or is_yes_no(question) or _ALL_ABOUT.search(question):
        return []
    asked = to_first_person(question)
    about = content_lemmas(asked) - GENERIC_LEMMAS - _QUESTION_CUES - WH_WORDS  # «Откуда ты?» names no thing
    if about:
        shared = [len(about & content_lemmas(fact)) for fact in persona]
        return [fact for fact, count in zip(persona, shared) if count and count == max(shared)]
    slot = question_slot(asked)
    return [fact for fact in persona if slot is not None and classify(fact) == slot]


def tells(reply: str, fact: str, question: str = "") -> bool:
    """Whether ``reply`` says something of what ``fact`` says beyond the words of the ``question`` it answers: a word of
    its own (not only a verb many facts share: «Что ты выращиваешь?» -> «Я выращиваю …» tells nothing yet), or its
    number («20» of «Мне двадцать лет.»)."""
    wanted = content_lemmas(fact) - GENERIC_LEMMAS - content_lemmas(to_first_person(question)) or content_lemmas(fact)
    return bool(content_lemmas(reply) & wanted) or bool(set(numbers(reply)) & set(numbers(fact)))


def _said_before(fact: str, history: Sequence[str]) -> bool:
    """Whether one of the bot's earlier replies in ``history`` said what ``fact`` says (all its content words)."""
    about = content_lemmas(fact)
    return any(about <= content_lemmas(reply) for reply in history[-2::-2])


def user_name(facts: Sequence[str]) -> str | None:
    """The user's own name in the newest of ``facts`` (their first-person facts) that gives one, in the nominative:
    «Меня Олегом зовут.» -> «Олег», «Я Александра.» -> «Александра»; not another's («Мою дочь зовут Аня.»), nor a word
    no dictionary knows as a name."""
    for fact in reversed(facts):
        found = words(fact)
        someone_elses = {lemma(word) for word in found} & {"мой", "твой"} and "имя" not in found  # «Моё имя Аня» is hers
        if classify(fact) != "name" or someone_elses or set(found) & {"его", "её", "ее", "их"}:
            continue
        for word in found:
            names = [p for p in morph().parse(word) if "Name" in p.tag]  # «Света», not «света» of «свет»
            if any({"nomn", "sing"} in p.tag for p in names):
                return word.capitalize()  # as the user spells it; «Александра» is hers, not Александр's genitive
            if names:
                return names[0].normal_form.capitalize()
    return None


OWN_NAMES = {
    "femn": ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Татьяна", "Светлана", "Марина", "Юлия"),
    "masc": ("Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Иван", "Николай", "Павел", "Максим", "Артём"),
    None: ("Саша", "Женя", "Валя"),  # a name for either, where the facts do not show which
}


def named(persona: Sequence[str], invented: Sequence[str] = ()) -> list[str]:
    """The bot's facts, ``persona`` and what it ``invented`` in the dialogue, with its name last where none of them
    gives one («Меня зовут Саша.», ``own_name``): a person asked their name says it, where the model, trained on
    replies without invented names, answers with its job."""
    facts = [*persona, *invented]
    if any(classify(fact) == "name" for fact in facts):
        return facts
    return [*facts, f"Меня зовут {own_name(persona)}."]


def own_name(persona: Sequence[str]) -> str:
    """A first name for a persona that has none: picked by a stable hash of its facts (the same persona keeps its name
    across dialogues, restarts and users), of the gender its facts show (``persona_gender``)."""
    return _own_name(tuple(persona))


@lru_cache(maxsize=1024)
def _own_name(persona: tuple[str, ...]) -> str:
    """``own_name``, read once per persona: every reply's facts hold the name (``Turn.own_facts``)."""
    names = OWN_NAMES[persona_gender(persona)]
    digest = hashlib.sha256("\n".join(persona).encode("utf-8")).digest()
    return names[int.from_bytes(digest[:4], "big") % len(names)]


_MEN = frozenset({"мальчик", "парень", "мужчина", "юноша", "отец", "папа", "дедушка", "дед", "муж", "холостяк"})
"""Words a man says of himself («Я мальчик», «Я отец двоих детей»); a masculine noun is not one in general («Я врач»)."""


def persona_gender(persona: Sequence[str]) -> str | None:
    """``"femn"`` or ``"masc"`` where the persona's clauses about «я» show one and only one by their grammar
    («Я работала бухгалтером», «Я женат», «Я студентка», «Я замужем», «Я мальчик»), else None («Я работаю врачом» shows
    neither)."""
    seen: set[str] = set()
    for fact in persona:
        for _, clause in _clauses(fact) or [(0, fact)]:
            found = words(clause)
            if "я" not in found:
                continue
            if "замужем" in found:
                seen.add("femn")
            rest = [word for word in found[found.index("я") + 1:] if word not in ("не", "очень", "уже", "тоже")]
            after_self = rest[:1]  # what «я» is: «Я (не) женат», «Я студентка», «Я мальчик»
            if set(after_self) & _MEN:
                seen.add("masc")
            for word in found:
                for parsed in morph().parse(word):
                    tag = parsed.tag
                    spoken_of_self = ("VERB" in tag and "past" in tag) or word in after_self and (
                        "ADJS" in tag or {"NOUN", "anim", "femn", "nomn"} in tag)  # «учитель» is anyone's
                    if spoken_of_self and "sing" in tag and tag.gender in ("femn", "masc"):
                        seen.add(tag.gender)
                        break
    return seen.pop() if len(seen) == 1 else None


def without_greeting(text: str) -> str:
    """``text`` after the greetings it opens with: «Привет, как жизнь?» -> «, как жизнь?»."""
    while found := _GREETING.match(text):
        text = text[found.end():]
    return text


def is_how_are_you(question: str) -> bool:
    return bool(_HOW_ARE_YOU.match(question))


def question_back(message: str) -> str | None:
    """What the user said before the bare question back that ends ``message`` («Я юрист. А ты?» -> «Я юрист.»,
    «Нет, а у тебя?» -> «Нет»), "" for a message that is only one; None if it does not end in one."""
    message = undecorated(message.strip())
    found = _QUESTION_BACK.search(message)
    return None if found is None else message[: found.start()].strip(" ,;:-")


def in_kind(told: str, history: Sequence[str], facts: Sequence[str]) -> str:
    """The opening of the reply to a question back: the bot's fact of what the user ``told`` of themself just
    before it («Я юрист. А ты?» -> «Я хирург.», «Я люблю читать, а ты?» -> «Я люблю читать книжки.»), or, where they
    told nothing of themself, of what the bot had asked them («Как дела? У тебя есть дети?» -> «Нет, а у тебя?» ->
    «У меня двое детей.»); "" where ``facts`` (the persona and what the bot said of itself) have none: the model
    answers, in kind rather than with a yes or a no to a question nobody asked."""
    statements = self_statements(told)
    if statements:
        asked = to_second_person(statements[-1].text).rstrip(".!…) ") + "?"
        slot = statements[-1].slot
    else:
        asked = last_question(history[-2]) if len(history) >= 2 else None
        if asked is not None and is_how_are_you(asked):
            return FINE  # «Как дела?» -> «Хорошо. А у тебя?»
        if asked is None or addressee(asked) != "bot":
            return ""
        slot = question_slot(to_first_person(asked))
    if slot == "city":  # «Я живу с родителями» is no answer to «Я из Москвы, а ты?»
        facts = [fact for fact in facts if classify(fact) != "city" or _names_place(fact)]
    found = settling_fact(asked, facts)
    if found is not None:
        return _said_again(found[1])
    same_kind = [fact for fact in facts if slot not in (None, "other") and classify(fact) == slot]
    return _said_again(same_kind[0]) if same_kind else ""


def _names_place(fact: str) -> bool:
    return any("Geox" in parse(word).tag for word in words(fact))


def against_answer(question: str, answer: str, sentence: str) -> bool:
    """Whether ``sentence``, said after the yes/no ``answer`` (``YES`` or ``NO``) to ``question``, takes it back: a
    statement of the same kind of fact in the other polarity («У тебя есть домашние животные?» → «Нет, …» then
    «А у меня есть кошка.»; «Ты женат?» → «Нет, …» then «У меня жена есть.»)."""
    slot = question_slot(to_first_person(question))
    if slot is None or classify(sentence) != slot or not self_statements(sentence):
        return False
    return is_negative(sentence) == (answer == YES)


def said_of_itself(history: Sequence[str]) -> list[str]:
    """What the bot has said of itself in ``history``, as first-person facts, oldest first: its replies' own
    statements (not a story, ``_is_story``), and short answers to questions about it made whole («Сколько тебе лет?» →
    «25.» is «Мне 25 лет.», «Как тебя зовут?» → «Аня» is «Меня зовут Аня.»), so that what it invented is kept to when
    asked again."""
    facts: list[str] = []
    for index in range(len(history) - 2, -1, -2):  # the bot's replies: every other turn back from the one before the last
        reply, asked = history[index], history[index - 1] if index else ""
        told = [f.text for f in self_statements(reply) if not any(_is_story(part) for part in fact_parts(f.text))]
        question = last_question(asked)
        if question and addressee(question) == "bot":
            if not told:
                told = [whole] if (whole := _whole_answer(question_slot(to_first_person(question)), reply)) else []
            if is_yes_no(question) and (said := says_yes(reply)) is not None:
                told[:0] = [answer] if (answer := answered_as_fact(question, said)) else []
        facts[:0] = told
    return facts


_SAYS_YES, _SAYS_NO = re.compile(r"да\b", re.IGNORECASE), re.compile(r"нет\b", re.IGNORECASE)
_SOCIAL_OPENING = re.compile(r"^(?:\W*(?:привет\w*|здравствуй\w*|приятно познакомиться)\b[^.!?…]*[.!?…]+\s*)+",
                             re.IGNORECASE)
"""«Привет! Приятно познакомиться, Оля!» before the answer itself."""


def social_opening(reply: str) -> tuple[str, str]:
    """``reply`` split after its greeting, if any: («Привет! Приятно познакомиться, Оля! », «Нет, детей нет.»)."""
    found = _SOCIAL_OPENING.match(reply)
    return (found.group(), reply[found.end():]) if found else ("", reply)


def says_yes(reply: str) -> bool | None:
    """True where ``reply`` opens with «да», False with «нет» (after a greeting, if any), None with neither."""
    reply = social_opening(reply)[1]
    return True if _SAYS_YES.match(reply) else False if _SAYS_NO.match(reply) else None


def answered_as_fact(question: str, yes: bool) -> str | None:
    """The bot's yes or no to a yes/no ``question`` about itself as its first-person fact, so that it keeps to it:
    «У тебя есть дети?» → «Нет, …» is «У меня нет детей.», «Ты куришь?» → «Да» is «Я курю.»; None where the question
    is not worded so (a negative one, «Есть ли …», no «ты»)."""
    said = re.sub(r"^\W*(?:а|и|ну)\s+", "", to_first_person(question).strip(" ?!.…)"), flags=re.IGNORECASE)
    found = words(said)
    if not found or "ли" in found or is_negative(said):
        return None
    if found[:3] == ["у", "меня", "есть"] and len(found) > 3:
        if yes:
            return _said_again(said[:1].upper() + said[1:])
        things = [_genitive(word) for word in said.split()[3:]]
        return _said_again("У меня нет " + " ".join(things))
    if found[0] not in ("я", "мне"):
        return None
    subject, rest = said.split(maxsplit=1) if " " in said else (said, "")
    if not rest:
        return None
    return _said_again(f"{subject.capitalize()} {rest}" if yes else f"{subject.capitalize()} не {rest}")


def _genitive(word: str) -> str:
    """``word`` (with its punctuation) in the genitive, as «нет» takes it: «дети» → «детей», «собака» → «собаки»."""
    core = re.sub(r"\W+$", "", word)
    parsed = next((p for p in morph().parse(core) if {"nomn"} in p.tag and ({"NOUN"} in p.tag or {"ADJF"} in p.tag)),
                  None)
    if parsed is None:
        return word
    number = {"plur"} if "plur" in parsed.tag else set()
    inflected = parsed.inflect({"gent", *number})
    return word.replace(core, inflected.word) if inflected else word


def _is_story(part: str) -> bool:
    """A long part with a negation, where the negation may belong to anything: «Я вот живу в Самаре и не могу найти
    себе время.» says nothing against «Я живу в Самаре», as the bot's own long clauses are not read
    (``_CLAUSE_WORDS``)."""
    return len(words(part)) > _CLAUSE_WORDS and is_negative(part)


def _whole_answer(slot: str | None, reply: str) -> str | None:
    """A short answer to a question of ``slot`` as a first-person fact, or None; a greeting is none («Привет!
    Приятно познакомиться, Оля!» names the user)."""
    found = words(social_opening(reply)[1])
    if not found or len(found) > 4:
        return None
    if slot == "age" and (number := next((w for w in found if w.isdigit() and 0 < int(w) < 120), None)):
        return f"Мне {number} {_years(int(number))}."
    if slot == "name" and "Name" in parse(found[-1]).tag:
        return f"Меня зовут {found[-1].capitalize()}."
    if slot == "city" and len(found) >= 2 and found[0] in ("в", "во", "из"):
        place = " ".join(w.capitalize() for w in found[1:])
        return f"Я живу {found[0]} {place}." if found[0] != "из" else f"Я из {place}."
    return None


def _years(number: int) -> str:
    if number % 10 == 1 and number % 100 != 11:
        return "год"
    return "года" if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14 else "лет"


def _said_again(fact: str) -> str:
    return fact if fact[-1:] in ".!?…" else fact + "."


def join_opening(opening: str, continuation: str) -> str:
    """The reply: the opening and what the model wrote after it."""
    continuation = continuation.strip()
    if not opening:
        return continuation
    if not continuation:
        return opening.rstrip(",")
    glue = "" if continuation[:1] in ",.!?…)" else " "
    return f"{opening}{glue}{continuation}"
