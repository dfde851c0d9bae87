"""One turn of the conversation: from persona, history and what the bot knows of the user to the reply sent.

The backends turn model inputs into text; this module decides what goes around that, the same for the
Generator, reply selection, the evaluation and the conversation checks:

* the reply's opening where the facts settle it (``dialogue.grounding``): a yes/no answer that agrees with the
  persona, the user's fact said back when asked, «Пока!» to a goodbye;
* the user's facts in the input (``FormatSpec.max_partner_facts``);
* turn-taking: a question back («А ты?», «А у тебя?») only where a person would ask one, in return for a
  getting-to-know question about what the bot does not know of the user yet (``ask_back_allowed``): elsewhere it is
  kept out while the model writes (``QUESTION_BACK``), so that it says something else instead; a question back from
  the user is answered in kind (``dialogue.grounding.in_kind``); never the user's own message said back (an echo
  is generated again with it kept out); a reply the token limit cut mid-sentence ends at its last full sentence; at
  most ``MAX_SENTENCES`` sentences, the model stopped once it begins one more (``SentenceLimit``);
* the persona told as a person tells it: a question it answers, answered with something else, is written again from
  the fact (``grounding.answering_facts``); a fact an earlier reply told is not told again unasked
  (``without_said_again``), and a reply does not say one thing twice (``without_saying_twice``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import DecodingSettings
from bot.generation.earlier_replies import QUESTION_BACK, repeats_earlier
from dialogue.format import own_turns, tokenizer_truncator, words_only
from dialogue.grounding import (
    EMPTY_WORDS,
    NO,
    YES,
    addressee,
    against_answer,
    answering_facts,
    asked_of,
    consistent_part,
    contradicted_fact,
    cut_before,
    is_farewell,
    is_greeting,
    is_how_are_you,
    is_yes_no,
    join_opening,
    last_question,
    named,
    question_back,
    question_slot,
    reply_opening,
    said_of_itself,
    says_yes,
    settling_fact,
    social_opening,
    tells,
    without_greeting,
)
from dialogue.memory import GENERIC_LEMMAS, Fact, classify, self_statements
from dialogue.russian import content_lemmas, is_question, sentences, to_first_person, words

ASK_BACK = re.compile(
    r"(?:^|(?<=[,.!?…;:)(])|(?<=\w)(?-i:(?=\s+[АИ]\s)))\s*(?:а|и|ну а)\s+"
    r"(?:(?:как|что|чем|где|кем|кто|сколько|какой|какая|какое|какие|откуда|куда|когда)\s+"
    r"(?:\w+\s+(?=(?:у\s+)?(?:ты|тебя|тебе|вы|вас|вам)\b))?)?"  # a word between only before «ты»: not «где живёт твоя мама»
    r"(?:у\s+)?(?:ты|тебя|тебе|вы|вас|вам|твой|твоя|твои|ваш|ваши)\b[^.!?…]*\?+[)\s]*",
    re.IGNORECASE,
)
"""A question back: a clause opening with «а» and «ты» (or «у тебя», «вы»…), maybe a question word and a word between
(«А сколько у тебя?», «А откуда ты?», «А сколько лет тебе?»), ending in «?»; also typed without a stop before it («У меня
кот А у вас?»)."""
MAX_SENTENCES = 2
"""A reply answers, then adds at most one thing, as people's replies in the persona chat mostly do; the model kept
from asking back goes on, and its later sentences are where it contradicts itself (docs/model_recipe.md)."""
ASK_BACK_EVERY = 4
"""A question back at most once in this many of the bot's replies in a dialogue."""
RECIPROCAL_SLOTS = frozenset({"name", "age", "city", "job", "family", "pets", "likes", "plans"})
"""What a getting-to-know question asks that the bot may ask in return: people in the persona chat ask back after a
third or more of such open questions about what the asker has not told, after a sixth to a third of such yes/no
questions, after one in seven about what they told, and after one statement in twenty (docs/model_recipe.md)."""
TOLD_ONCE_SLOTS = frozenset({"name", "age", "city", "job"})
"""What a person has one of: once told, the bot does not ask it again."""
KIND_WORDS = re.compile(r"хорош|удач|спасибо|рад|приятн|увидимся|до (встречи|завтра|свидания)|счастлив|спокойной|"
                        r"добр|сладких", re.IGNORECASE)
"""What a goodbye may add: a wish or a thank-you, not a new topic."""
_CONTRAST = re.compile(r"^[Аа]\s+(?:вот\s+)?(я|у меня|мне|меня|мой|моя|мои)(\b.*)$", re.DOTALL)
_MID_CONTRAST = re.compile(r"^((?:[Дд]а|[Нн]ет),\s+[^,.!?…]+),\s+а\s+(я|у меня|мне)\b(?![^.!?…]*\?)")
"""«Да, в Казани, а у меня есть кошка»: an answer, then the bot set against nothing."""
_SELF_AGAINST_SELF = re.compile(r"(\b(?:[Яя]|[Уу] меня|[Мм]не)\b[^,.!?…]*),\s+а\s+(я|у меня|мне|меня)\b(?![^.!?…]*\?)")
"""«Я врач, а у меня есть собака»: the bot set against itself, where it means «и»."""
_ALSO = re.compile(r"\s*\b(?:тоже|также)\b", re.IGNORECASE)
_SPEAKS_OF_ITSELF = re.compile(r"\b(?:я|у меня|мне|меня)\b", re.IGNORECASE)
_CLAUSE_WITH_STOP = re.compile(r"[^,;:.!?…]+(?:[,;:.!?…)]+\s*|$)")
_SENTENCE_END = re.compile(r"[.!?…)]+(?=\s|$)")


@dataclass(frozen=True)
class Turn:
    """What one reply is made from."""

    persona: tuple[str, ...]
    history: tuple[str, ...]
    """Oldest first; the user's message last."""
    partner: tuple[str, ...] = ()
    """What the bot knows of the user: their facts, first person, newest last."""

    @property
    def opening(self) -> str:
        return reply_opening(self.persona, self.history, self.partner)

    @property
    def own_facts(self) -> list[str]:
        """What the reply must not contradict: the persona, and what the bot said of itself where that kept to the
        persona and to what it had said before (the first word stands: «У меня нет животных.» after «У меня есть
        собака.» is not kept), and its name where neither gives one (``grounding.named``)."""
        facts = list(self.persona)
        for fact in said_of_itself(self.history):
            if not contradicted_fact(fact, facts):
                facts.append(fact)
        return named(self.persona, facts[len(self.persona):])


def asks_back(text: str) -> bool:
    return bool(ASK_BACK.search(text))


def ask_back_allowed(history: Sequence[str], partner: Sequence[str] = ()) -> bool:
    """A question back is what people do after answering a getting-to-know question they could ask in return
    («Кем ты работаешь?» -> «Я врач, а ты?», «Как дела?» -> «Хорошо, а у тебя?»), unless the asker has told that
    of themself already (``partner``: what the bot knows of them; or in the dialogue); after a statement or a
    question back people rarely ask back, and the bot does not; after a yes/no one people ask back a sixth to a third
    of the time, but the bot does not: most getting-to-know questions are yes/no, and asking there takes its overall
    rate over twice people's (docs/model_recipe.md). Not twice within ``ASK_BACK_EVERY``."""
    if not history or is_farewell(history[-1]) or question_back(history[-1]) is not None:
        return False
    question = last_question(history[-1])
    if question is None:
        return False
    how_are_you = is_how_are_you(question)
    slot = question_slot(to_first_person(question))
    if not how_are_you and (addressee(question) != "bot" or is_yes_no(question) or slot not in RECIPROCAL_SLOTS):
        return False
    if slot in {fact.slot for fact in told_facts(history, partner)}:
        return False
    return not any(asks_back(reply) for reply in own_turns(history)[-(ASK_BACK_EVERY - 1) :])


def told_facts(history: Sequence[str], partner: Sequence[str] = ()) -> list[Fact]:
    """What the user has told of themself: what the bot knows of them (``partner``) and their messages' statements."""
    said = [fact for message in history[::-1][::2] for fact in self_statements(message)]
    return self_statements(" ".join(partner)) + said


def without_asking_what_is_told(reply: str, history: Sequence[str], partner: Sequence[str] = ()) -> str:
    """``reply`` without a question about what the user has told of themself: their name, age, town or job
    («Меня Дима зовут. Я программист.» -> «Приятно познакомиться, Дима! Чем занимаешься?»), or a yes/no question a
    fact of theirs settles («У меня сын.» -> «У тебя есть дети?»). A person who asks that again was not listening.
    Unchanged where nothing but the question would be left."""
    said = sentences(reply)
    if len(said) < 2 or "?" not in reply:
        return reply
    told = told_facts(history, partner)
    if not told:
        return reply
    known = {fact.slot for fact in told} & TOLD_ONCE_SLOTS
    facts = [fact.text for fact in told]

    def asks_what_is_told(sentence: str) -> bool:
        question = last_question(sentence)
        if question is None or sentence.rstrip(" )")[-1:] != "?" or asked_of(question) != "bot":
            return False
        if is_yes_no(question):
            return settling_fact(question, facts) is not None
        return question_slot(to_first_person(question)) in known

    kept = [sentence for sentence in said if not asks_what_is_told(sentence)]
    return " ".join(kept) if kept and len(kept) < len(said) else reply


def without_asking_again(reply: str, history: Sequence[str]) -> str:
    """``reply`` without a question the bot asked in an earlier reply, in the same words («Чем занимаешься?» twice
    in a dialogue): the user heard it and chose what to answer. A bare question back («А ты?») is left to
    ``ask_back_allowed``. Unchanged where nothing but the question would be left, or an earlier reply."""
    said = sentences(reply)
    if len(said) < 2 or "?" not in reply:
        return reply
    earlier = own_turns(history)
    asked = {_question_words(sentence) for turn in earlier for sentence in sentences(turn)} - {""}
    kept = " ".join(sentence for sentence in said if _question_words(sentence) not in asked)
    return kept if kept and len(kept) < len(reply.strip()) and not repeats_earlier(kept, earlier) else reply


def _question_words(sentence: str) -> str:
    """A question's words without a leading «а», «и» or «ну» («А чем занимаешься?» asks «Чем занимаешься?»); "" for
    a sentence that asks nothing or only «ты?»."""
    if sentence.rstrip(" )")[-1:] != "?":
        return ""
    asked = re.sub(r"^(?:(?:а|и|ну)\s+)+", "", words_only(sentence))
    return asked if " " in asked else ""


def without_ask_back(text: str) -> str:
    """``text`` without its questions back; unchanged if nothing else would be left."""
    kept = ASK_BACK.sub(". ", text)
    kept = re.sub(r"([,;:]|[.!?…)])\s*\.", lambda m: "." if m.group(1) in ",;:" else m.group(1), kept)
    kept = re.sub(r"\s+", " ", kept).strip().lstrip(". ")
    return kept if re.search(r"\w", kept) else text


def at_sentence_end(text: str, opening: str = "") -> str:
    """``text`` up to its last full sentence (it was cut by the token limit), or whole if it has none that says a
    word: «!!! ну я» is not cut to «!!!», which the earlier-reply ban (it reads words) could not keep from being sent
    twice. An ``opening`` that ends a sentence («Приятно познакомиться, Олег!») is one, whatever the model glued
    to it («…Олег!..пу»)."""
    ends = [end.end() for end in _SENTENCE_END.finditer(text) if words_only(text[: end.start()])]
    if opening.endswith((".", "!", "?", "…")) and text.startswith(opening):
        ends.append(len(opening))
    return text[: max(ends)].strip() if ends else text


def is_echo(reply: str, message: str) -> bool:
    """Whether ``reply`` says the user's ``message`` back (its words, case and punctuation aside), alone or as its
    opening («Привет! Как дела?» -> «Привет, как дела? Как тебя зовут?»); a greeting returned is none («Добрый день!» ->
    «Добрый день! Как дела?»)."""
    said = words_only(message)
    return (len(said.split()) >= 2 and f"{words_only(reply)} ".startswith(f"{said} ")
            and not is_greeting(message))


PARROT_WORDS = 4
"""This many words in a row of what the user told, said by the bot of itself, take the user's words for its own."""


def parrots(reply: str, message: str, facts: Sequence[str] = ()) -> bool:
    """Whether ``reply`` takes what the user told for its own, ``PARROT_WORDS`` words of the statement ``message`` in a
    row («У меня есть кот, он очень толстый.» -> «А у меня кот, он очень толстый.»); words the bot's own ``facts`` say
    too are its own («Я работаю учителем в школе.» -> «Я тоже работаю учителем в школе.» from a teacher's persona)."""
    if last_question(message) is not None:
        return False  # a question's words are the answer's: «Ты любишь читать книги?» -> «Да, я люблю читать книги.»
    told, said = words_only(message).split(), words_only(reply).split()
    runs = {" ".join(told[i : i + PARROT_WORDS]) for i in range(len(told) - PARROT_WORDS + 1)}
    own = [f" {words_only(fact)} " for fact in facts]
    return any(run in runs and not any(f" {run} " in fact for fact in own)
               for run in (" ".join(said[i : i + PARROT_WORDS]) for i in range(len(said) - PARROT_WORDS + 1)))


def compose(backend, turns: Sequence[Turn], decoding: DecodingSettings, *, per_input: int = 1) -> list[str]:
    """``per_input`` replies per turn, grouped by turn, as the bot sends them."""
    openings = [turn.opening if backend.format.is_causal else "" for turn in turns]
    inputs = model_inputs(backend, turns, openings)
    earlier = [list(own_turns(t.history)) for t in turns]
    # A question back is kept out while the model writes where a person would not ask one: it says something
    # else instead («Я учитель. Люблю свою работу.»), rather than a shorter reply being sent.
    asking_back = [ask_back_allowed(t.history, t.partner) for t in turns]
    keep_out = [{} if allowed else QUESTION_BACK for allowed in asking_back]
    limits = [sentences_after(opening) for opening in openings]
    many = {"per_input": per_input} if per_input > 1 else {}
    texts = backend.generate(inputs, decoding, earlier, persona=[t.persona for t in turns], keep_out=keep_out,
                             max_sentences=limits, openings=openings, **many)
    if len(texts) != len(inputs) * per_input:
        raise ValueError(f"backend returned {len(texts)} replies for {len(inputs)} inputs x {per_input}")
    limit = decoding.max_new_tokens or backend.format.max_target_tokens

    facts = [t.own_facts for t in turns]

    def finished(turn: int, text: str) -> str:
        said = sentences(text)
        if len(said) > limits[turn]:  # the sentence limit stopped the model at the first token of one more
            text = " ".join(said[: limits[turn]])
        return finish(openings[turn], text, turns[turn].history, _at_limit(backend, text, limit), facts[turn],
                      ask_back=asking_back[turn], partner=turns[turn].partner)

    def generate_again(indices: list[int], kept_out: dict[int, list[str]]) -> list[str]:
        """The replies of the turns ``indices`` written again, with ``kept_out`` as if the bot had said it."""
        return backend.generate([inputs[i] for i in indices], decoding, [earlier[i] + kept_out[i] for i in indices],
                                persona=[turns[i].persona for i in indices], keep_out=[keep_out[i] for i in indices],
                                max_sentences=[limits[i] for i in indices], openings=[openings[i] for i in indices],
                                **many)

    replies = [finished(k // per_input, text) for k, text in enumerate(texts)]
    # A reply that says the user's message back, or takes what they told for its own, goes again, with the message
    # kept out as if the bot had said it.
    echoed = sorted({k // per_input for k, reply in enumerate(replies)
                     if is_echo(reply, message := turns[k // per_input].history[-1])
                     or parrots(reply, message, facts[k // per_input])})
    if echoed:
        again = generate_again(echoed, {i: [turns[i].history[-1]] for i in echoed})
        for k, i in enumerate(echoed):
            replies[i * per_input : (i + 1) * per_input] = [finished(i, text)
                                                            for text in again[k * per_input : (k + 1) * per_input]]
    # A question about the bot that its persona answers, answered with something else («Что ты выращиваешь?» → «Я
    # вязала носки.»): written again from that fact, as an opening the model goes on from.
    missed = {i: found for i, turn in enumerate(turns) if not openings[i] and backend.format.is_causal
              and (found := answering_facts(turn.history[-1], turn.persona))
              and not all(any(tells(reply, fact, turn.history[-1]) for fact in found)
                          for reply in replies[i * per_input : (i + 1) * per_input])}
    if missed:
        for i, found in missed.items():
            openings[i], limits[i] = found[0], sentences_after(found[0])
            inputs[i] = model_inputs(backend, [turns[i]], [found[0]])[0]
        again = generate_again(list(missed), {i: [] for i in missed})
        for k, (i, found) in enumerate(missed.items()):
            for j in range(per_input):
                if not any(tells(replies[i * per_input + j], fact, turns[i].history[-1]) for fact in found):
                    replies[i * per_input + j] = finished(i, again[k * per_input + j])
    # A reply that would tell again, unasked, a fact an earlier reply told goes again with that fact kept out, so that
    # the model says something new rather than a reply cut short; if the new one has nothing left, the cut one stays.
    retelling = [[] if (i := k // per_input) in echoed or i in missed
                 else told_again(join_opening(openings[i], text), openings[i], turns[i].history, facts[i])
                 for k, text in enumerate(texts)]
    retold = {i: cut for i in range(len(turns))
              if (cut := sorted({fact for k in range(i * per_input, (i + 1) * per_input) for fact in retelling[k]}))}
    if retold:
        again = generate_again(list(retold), retold)
        for k, i in enumerate(retold):
            for j in range(per_input):
                if retelling[i * per_input + j] and (new := finished(i, again[k * per_input + j])):
                    replies[i * per_input + j] = new
    # A reply whose first words contradict the persona (or what the bot said of itself) goes again with them kept
    # out; if the model says it again, the fact it contradicted is the answer.
    broken = sorted({k // per_input for k, reply in enumerate(replies) if not reply})
    for i in broken:  # written again without a question back: a reply that was only one has to answer first
        asking_back[i], keep_out[i] = False, QUESTION_BACK
    if broken:
        said = {i: [texts[k] for k in range(i * per_input, (i + 1) * per_input)] for i in broken}
        again = generate_again(broken, said)
        for k, i in enumerate(broken):
            for j in range(per_input):
                if not replies[i * per_input + j]:
                    replies[i * per_input + j] = (finished(i, again[k * per_input + j]) or _keeping_to(
                        openings[i], [said[i][j], again[k * per_input + j]], facts[i], turns[i].history))
    return replies


def _keeping_to(opening: str, texts: Sequence[str], facts: Sequence[str], history: Sequence[str]) -> str:
    """The reply where the model's ``texts`` (its first try, then its second) contradicted a fact, or were cut to an
    earlier reply: the fact itself after the opening, unless the bot said that already; then what the second try
    says before it contradicts anything."""
    first = join_opening(opening, texts[0])
    fact = contradicted_fact(first, facts)
    if fact is None:
        return first
    reply = join_opening(opening, fact if fact[-1:] in ".!?…)" else fact + ".")
    if repeats_earlier(reply, own_turns(history)):
        return consistent_part(join_opening(opening, texts[-1]), facts) or reply
    return reply


def sentences_after(opening: str) -> int:
    """How many sentences the model may write after ``opening``: one after an opening that is a whole sentence (a
    fact said back, a goodbye), else ``MAX_SENTENCES`` for the reply (an opening «Да,» begins its first one)."""
    return 1 if opening.endswith((".", "!", "?")) else MAX_SENTENCES


def model_inputs(backend, turns: Sequence[Turn], openings: Sequence[str] | None = None) -> list[str]:
    """The model input of each turn (with its opening, if given)."""
    truncate = tokenizer_truncator(backend.tokenizer)
    openings = openings or [""] * len(turns)
    return [backend.format.build_input(t.persona, t.history, truncate=truncate, partner=t.partner, opening=o)
            for t, o in zip(turns, openings, strict=True)]


def finish(opening: str, continuation: str, history: Sequence[str], cut: bool = False,
           facts: Sequence[str] = (), ask_back: bool | None = None, partner: Sequence[str] = ()) -> str:
    """The reply sent: the opening and the model's words, ended at a sentence if the limit ``cut`` it, with
    no question back where a person would not ask one (unless without it the reply would say an earlier one
    again). After an opening that is a whole sentence (a fact said back, a goodbye) the model adds at most
    one sentence; after a goodbye only a kind word («Пока! Хорошего вечера!»). Nothing that contradicts ``facts``
    (``consistent_part``): "" where the reply opens with it."""
    if opening.endswith((".", "!", "?")):
        more = sentences(continuation)[:1]
        if is_farewell(history[-1]) and not (more and KIND_WORDS.search(more[0]) and "?" not in more[0]
                                             and not self_statements(more[0])):
            more = []
        continuation = " ".join(more)
    reply = join_opening(opening, continuation)
    if cut:
        reply = at_sentence_end(reply, opening)
    if not (ask_back_allowed(history) if ask_back is None else ask_back):
        trimmed = without_ask_back(reply)
        if not repeats_earlier(trimmed, own_turns(history)):
            reply = trimmed
    said = sentences(reply)
    # A greeting is not what the reply says; an opening of several sentences (what the bot knows of the user) is kept.
    keep = max(MAX_SENTENCES, len(sentences(opening))) + len(sentences(social_opening(reply)[0]))
    yes = says_yes(reply)
    answer = None if yes is None else YES if yes else NO
    if answer and (question := last_question(history[-1])) and is_yes_no(question):  # nothing after takes it back
        keep = next((i for i, sentence in enumerate(said[1:keep], 1) if against_answer(question, answer, sentence)), keep)
    reply = " ".join(said[:keep]) if len(said) > keep else reply.strip()
    if asks_back(reply) and not opening and not set(words(ASK_BACK.sub(" ", reply))) - EMPTY_WORDS:
        return ""  # a question back and nothing else («Привет, а ты?»): the question is answered first, written again
    reply = without_question_again(reply, history[-1], answered=bool(opening))
    reply = without_asking_again(without_asking_what_is_told(reply, history, partner), history)
    reply = without_said_again(without_saying_twice(reply, opening), opening, history, facts)
    if not reply:
        return ""
    kept = consistent_part(reply, facts)
    if kept != reply and repeats_earlier(kept, own_turns(history)):
        return ""  # what is left says an earlier reply again: written again instead
    return tidy(without_false_contrast(without_false_also(kept, history), history[-1]))


_SPACE_BEFORE_STOP = re.compile(r"\s+(?=[.,!?…;:]+(?:\s|$))")


def tidy(reply: str) -> str:
    """No space before a stop or a comma («в компании программистом .», as persona-chat workers typed it)."""
    return _SPACE_BEFORE_STOP.sub("", reply)


def without_said_again(reply: str, opening: str, history: Sequence[str], facts: Sequence[str]) -> str:
    """``reply`` without what it tells again of the bot's ``facts`` unasked: a fact an earlier reply told that the
    user's message does not ask about («Какое у тебя хобби?» -> «Я люблю печь пироги. У меня кошка Муська.» after the
    cat was told). A person tells a fact once; the bot's persona is in every model input, and the model would recite
    it. The model's words are cut before such a clause (a sentence it opens goes); "" where none of them is left. The
    ``opening`` stays, and so does the first sentence of an answer to a question the user asked the bot. ``compose``
    first writes such a reply again with the fact kept out (``told_again``), so that the model says something new."""
    return _said_again(reply, opening, history, facts)[0]


def told_again(reply: str, opening: str, history: Sequence[str], facts: Sequence[str]) -> list[str]:
    """The ``facts`` that ``without_said_again`` would cut from ``reply``."""
    return _said_again(reply, opening, history, facts)[1]


def _said_again(reply: str, opening: str, history: Sequence[str], facts: Sequence[str]) -> tuple[str, list[str]]:
    message = history[-1]
    earlier = [content_lemmas(turn) for turn in own_turns(history)]
    if not earlier or question_back(message) is not None:
        return reply, []
    asked = [_fact_core(fact) for fact in facts if _asks_about(message, fact)]
    told = [(core, fact) for fact in facts if (core := _fact_core(fact)) and any(core <= said for said in earlier)
            and not any(core & about for about in asked)]
    head = opening if opening and reply.startswith(opening) else ""
    rest = reply[len(head):]
    if not told or not words(rest):
        return reply, []
    question = last_question(message)
    answer = not head and question is not None and asked_of(question) == "bot"
    kept, cut = [], []
    for index, sentence in enumerate(sentences(rest)):
        if answer and not index:  # the model's answer to what the user asked: its own
            kept.append(sentence)
            continue
        for clause in _CLAUSE_WITH_STOP.finditer(sentence):
            said = content_lemmas(clause.group()) - GENERIC_LEMMAS
            if said and not is_question(clause.group()) and (found := [f for core, f in told if said <= core]):
                sentence, cut = cut_before(sentence, clause.start()), cut + found
                break
        if words(sentence):
            kept.append(sentence)
    if not cut:
        return reply, []
    if not kept:
        return (head if head.endswith((".", "!")) else ""), cut
    return (" ".join([head, *kept]) if head else " ".join(kept)), cut


def without_saying_twice(reply: str, opening: str = "") -> str:
    """``reply`` without a clause of the model's that says nothing an earlier clause of it did not: «Я врач, работаю
    врачом. А ты?» -> «Я врач. А ты?», «Я слушаю рок. У меня хобби, я люблю рок.» -> «Я слушаю рок. У меня хобби.».
    What follows such a clause stays where the clause ends its sentence, and goes where it ends mid-sentence."""
    said: set[str] = set()
    for clause in _CLAUSE_WITH_STOP.finditer(reply):
        lemmas = content_lemmas(clause.group()) - GENERIC_LEMMAS
        if (lemmas and lemmas <= said and clause.start() >= len(opening) and not is_question(clause.group())
                and words(kept := cut_before(reply, clause.start()))):
            after = reply[clause.end():].strip() if _SENTENCE_END.search(clause.group().rstrip()) else ""
            return without_saying_twice(f"{kept} {after}", opening) if after else kept
        said |= lemmas
    return reply


def _fact_core(fact: str) -> frozenset[str]:
    return content_lemmas(fact) - GENERIC_LEMMAS or content_lemmas(fact)


def _asks_about(message: str, fact: str) -> bool:
    """Whether ``message`` speaks of what ``fact`` tells: a word they share, or a question of its kind («У тебя есть
    домашние животные?» of «У меня есть кошка.»)."""
    if _fact_core(fact) & content_lemmas(to_first_person(message)):
        return True
    question = last_question(message)
    return question is not None and question_slot(to_first_person(question)) == classify(fact)


def without_question_again(reply: str, message: str, answered: bool = False) -> str:
    """``reply`` without the user's own question put back to them word for word («Как дела?» -> «Привет! Хорошо,
    как дела?» -> «Привет! Хорошо.»); unchanged if nothing but a greeting would be left and no opening ``answered``
    the question (an echo, written again)."""
    question = last_question(message)
    asked = words(without_greeting(question)) if question else []  # «Привет, как жизнь?» asks «как жизнь?»
    if len(asked) < 2:
        return reply
    for clause in re.finditer(r"[^,.!?…]+[,.!?…]*", reply):
        said = words(clause.group())
        if said[-len(asked):] == asked and not set(said[: -len(asked)]) - {"а", "и", "ну"}:
            kept = cut_before(reply, clause.start())
            if answered and words(kept) or set(words(kept)) - EMPTY_WORDS:
                return kept
    return reply


def without_false_contrast(reply: str, message: str) -> str:
    """No «А я …», «А у меня …» set against what the user did not say: after the reply's first sentence (the model's
    stand-in for a question back) or where the user's message told nothing of themself. «Я учитель.» -> «А я врач.»
    stays; «Чем занимаешься?» -> «Я врач. А у меня есть кот.» becomes «Я врач. У меня есть кот.»."""
    told = bool(self_statements(message))
    said = sentences(reply)
    kept = []
    for index, sentence in enumerate(said):
        if index or not told:
            sentence = _MID_CONTRAST.sub(r"\1, и \2", _CONTRAST.sub(_capitalised, sentence))
        kept.append(_SELF_AGAINST_SELF.sub(r"\1, и \2", sentence))
    return " ".join(kept) if kept != said else reply


def without_false_also(reply: str, history: Sequence[str]) -> str:
    """``reply`` without a «тоже» (or «также») the bot says of itself about what neither the user's last two messages
    nor the reply before it speak of: «Я устала сегодня.» -> «Я тоже люблю играть в шахматы.» becomes «Я люблю играть в
    шахматы.». «Я люблю шахматы.» -> «Я тоже люблю шахматы.» stays, as do «Они любят танцы, я их тоже люблю.» and a bare
    «Я тоже,» (it agrees with the message as a whole: «У меня всё хорошо.» -> «У меня тоже.»)."""
    told = content_lemmas(" ".join(history[::-1][::2][:2]))
    kept, changed = [], False
    for clause in _CLAUSE_WITH_STOP.findall(reply):
        said = content_lemmas(clause)
        if said and _ALSO.search(clause) and _SPEAKS_OF_ITSELF.search(clause) and not said & (
                told | content_lemmas("".join(kept))):
            clause, changed = _ALSO.sub("", clause, count=1), True
        kept.append(clause)
    return "".join(kept) if changed else reply


def _capitalised(match: re.Match[str]) -> str:
    return match.group(1)[:1].upper() + match.group(1)[1:] + match.group(2)


def _at_limit(backend, text: str, limit: int) -> bool:
    return len(backend.tokenizer(text, add_special_tokens=False)["input_ids"]) >= limit - 1
