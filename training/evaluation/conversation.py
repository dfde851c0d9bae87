"""Conversation checks through the bot's own path: does it hold a conversation as a person would?

Every message travels as a user's does: ``ChatService.reply`` on a real (temporary) SQLite database, the
user's facts remembered from their messages, the ``Generator`` composing the reply. Each check is one user
of the bot with their own persona, so the Generator batches them as it batches concurrent users.

* **Consistency**: yes/no questions whose answer the persona settles (both polarities, varied wording), and
  questions about what the bot said earlier in the dialogue; a reply is consistent when it answers as the
  facts say («да» / «нет», or a negation in its first sentence).
* **Memory**: a fact told, small talk, then asked back; the reply holds the fact. Then ``/reset`` and the
  same question again (the fact survives a new dialogue).
* **Its own name**: a persona without one asked «Как тебя зовут?», small talk, then asked again; the reply says a
  name, and the same one.
* **Responding**: something the user tells of their day or themself; the reply takes it up, asks about it or
  reacts to it (``training.data.responses``), as people's replies to a statement do about half the time.
* **Turn-taking**: over every reply of these checks, the share that asks back («А ты?»), the replies that
  say the user's message back (echoes), and whether a goodbye is answered with a goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.chat import ChatService, ReplyFailed
from bot.config import Settings
from bot.generation import Generator
from bot.generation.turns import asks_back, is_echo
from bot.personas import load_presets
from bot.storage.database import Database
from bot.storage.repository import Repository
from dialogue.grounding import denying_fact, is_yes_no
from dialogue.memory import GENERIC_LEMMAS
from dialogue.russian import STOP_LEMMAS, content_lemmas, is_negative, parse, sentences, words
from training.data.responses import ignores_the_message


@dataclass(frozen=True)
class Consistency:
    persona: tuple[str, ...]
    question: str
    yes: bool
    """The answer the persona (or the bot's earlier reply in ``before``) settles; for a question that is not a
    yes/no one, False: it takes for granted what the persona denies, and the reply must deny it."""
    before: tuple[str, ...] = ()
    """Earlier turns of the user's, answered by the bot first (a question whose answer the bot makes up)."""


def _c(persona: tuple[str, ...], *items: tuple[str, bool]) -> list[Consistency]:
    return [Consistency(persona, question, yes) for question, yes in items]


VEGAN_TEACHER = ("Я работаю учителем.", "Я не ем мясо.", "У меня нет детей.")
CONSISTENCY: list[Consistency] = [
    *_c(VEGAN_TEACHER, ("Ты ешь мясо?", False), ("У тебя есть дети?", False), ("Ты работаешь учителем?", True),
        ("Есть ли у тебя дети?", False)),
    *_c(("Я не пью алкоголь.", "Я живу в Казани.", "У меня есть кошка."),
        ("Ты пьёшь алкоголь?", False), ("Ты живёшь в Казани?", True), ("Ты живёшь в Москве?", False),
        ("А у тебя есть кошка?", True)),
    *_c(("Я ненавижу футбол.", "Я программист.", "У меня есть собака."),
        ("Ты любишь футбол?", False), ("Ты программист?", True), ("Скажи, у тебя есть собака?", True)),
    *_c(("Я никогда не был за границей.", "Я люблю рыбалку.", "Я водитель."),
        ("Ты был за границей?", False), ("Ты любишь рыбалку?", True), ("Ты работаешь водителем?", True),
        ("Ты врач?", False)),
    *_c(("Я не умею плавать.", "Я студентка.", "Я живу в Сочи."),
        ("Ты умеешь плавать?", False), ("Ты живёшь в Сочи?", True), ("Ты живёшь в Петербурге?", False)),
    *_c(("Я не курю.", "Я работаю врачом.", "Я женат."),
        ("Ты куришь?", False), ("Ты работаешь врачом?", True), ("Ты женат?", True)),
    *_c(("У меня нет машины.", "Я люблю читать.", "Я живу в деревне."),
        ("У тебя есть машина?", False), ("Ты любишь читать?", True), ("Ты живёшь в деревне?", True)),
    *_c(("Я боюсь высоты.", "Я не люблю кофе.", "У меня есть брат."),
        ("Ты любишь кофе?", False), ("У тебя есть брат?", True), ("Ты боишься высоты?", True)),
    *_c(("Я играю на гитаре.", "Я не смотрю телевизор.", "Я живу один."),
        ("Ты играешь на гитаре?", True), ("Ты смотришь телевизор?", False)),
    *_c(("У меня нет домашних животных.", "Я повар.", "Я люблю путешествовать."),
        ("У тебя есть домашние животные?", False), ("Ты повар?", True), ("Ты любишь путешествовать?", True)),
    *_c(("Я не замужем.", "Я работаю в банке.", "У меня есть сын."),
        ("Ты замужем?", False), ("Ты работаешь в банке?", True), ("У тебя есть сын?", True)),
    *_c(("Я не умею готовить.", "Я люблю собак.", "Я пенсионер."),
        ("Ты умеешь готовить?", False), ("Ты любишь собак?", True), ("Ты пенсионер?", True)),
    *_c(("Я не играю в компьютерные игры.", "Я занимаюсь бегом.", "Я живу в Москве."),
        ("Ты играешь в компьютерные игры?", False), ("Ты занимаешься бегом?", True),
        ("Ты живёшь в Новосибирске?", False)),
    *_c(("Я веган.", "Я не люблю зиму.", "У меня две кошки."),
        ("Ты любишь зиму?", False), ("У тебя есть кошки?", True)),
    *_c(("Я не верю в гороскопы.", "Я работаю парикмахером.", "У меня нет сестры."),
        ("Ты веришь в гороскопы?", False), ("Ты парикмахер?", True), ("У тебя есть сестра?", False)),
    *_c(("Я люблю рисовать.", "Я не ем сладкое."), ("Ты ешь сладкое?", False), ("Ты любишь рисовать?", True)),
    # As people type in a chat, without «ты»: the verb's person, or nothing, says whom it asks.
    *_c(("Я не курю.", "Я живу в Казани.", "У меня есть собака."), ("Куришь?", False), ("Собака есть?", True),
        ("Живёшь в Москве?", False)),
    *_c(("Я ненавижу футбол.", "У меня нет детей.", "Я женат."), ("Любишь футбол?", False), ("Дети есть?", False),
        ("Женат?", True)),
    *_c(("Я не пью алкоголь.", "Я работаю учителем."), ("Пьёшь пиво?", False), ("Работаешь учителем?", True)),
]
IMPLIED: list[Consistency] = [
    *_c(("Я веган.", "Я работаю дизайнером.", "Я живу в Казани."), ("Ты ешь мясо?", False),
        ("Ты любишь шашлык?", False), ("Ты пьёшь молоко?", False), ("Какое твоё любимое мясное блюдо?", False)),
    *_c(("Я не пью алкоголь.", "Я люблю спорт.", "У меня есть сын."), ("Ты любишь пиво?", False),
        ("Ты пьёшь вино?", False), ("Какое пиво ты любишь?", False)),
    *_c(("Я обожаю шашлык.", "Я работаю водителем."), ("Ты ешь мясо?", True), ("Ты любишь мясные блюда?", True)),
    *_c(("У меня две кошки.", "Я учительница."), ("У тебя есть питомцы?", True),
        ("У тебя есть домашние животные?", True)),
    *_c(("У меня нет детей.", "Я живу в Москве."), ("Сколько у тебя детей?", False)),
    *_c(("Я играю на гитаре.", "Я студент."), ("Ты играешь на каком-нибудь музыкальном инструменте?", True)),
    *_c(("Я не курю.", "Я врач."), ("Ты куришь кальян?", False), ("Ты куришь сигареты?", False)),
    *_c(("Я люблю пиво.", "Я живу в Сочи."), ("Ты пьёшь алкоголь?", True)),
    *_c(("У меня нет машины.", "Я люблю гулять."), ("Какая у тебя машина?", False)),
    *_c(("Я вегетарианка.", "Я люблю читать."), ("Ты любишь колбасу?", False), ("Ты ешь курицу?", False)),
    *_c(("Я боюсь собак.", "Я работаю бухгалтером."), ("Ты любишь собак?", False), ("У тебя есть собака?", False)),
]
"""21 questions over 11 personas whose answer a fact implies without wording it (common knowledge: what a vegan
eats, what is alcohol), the issue's own examples among them; four ask about what the persona denies."""


@dataclass(frozen=True)
class Invented:
    """A question the persona does not answer, asked again after small talk: the bot keeps to what it said."""

    persona: tuple[str, ...]
    question: str
    again: str


INVENTED = [
    Invented(("Я люблю рисовать.",), "Где ты живёшь?", "Напомни, где ты живёшь?"),
    Invented(("Я работаю почтальоном.",), "Как тебя зовут?", "Ещё раз, как тебя зовут?"),
    Invented(("Я люблю гулять.",), "Сколько тебе лет?", "А сколько тебе лет, говоришь?"),
    Invented(("Я играю в теннис.",), "Какая у тебя любимая еда?", "Напомни, какая у тебя любимая еда?"),
]
"""The second answer must share what the first said (its content words, not only «жить» or «звать»)."""

_YES = re.compile(r"^\W*(да|ага|угу|конечно|естественно|разумеется|ещё бы|еще бы|yes)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(нет|неа|не-а|никогда|no)\b", re.IGNORECASE)


def answers_yes(reply: str) -> bool | None:
    """The reply's answer: its first word if it is a yes or a no, else the polarity of its first sentence."""
    if _YES.match(reply):
        return True
    if _NO.match(reply):
        return False
    first = sentences(reply)[:1]
    return None if not first else not is_negative(first[0])


@dataclass(frozen=True)
class MemoryProbe:
    told: str
    question: str
    stems: frozenset[str]


def _m(told: str, question: str, *stems: str) -> MemoryProbe:
    return MemoryProbe(told, question, frozenset(stems))


MEMORY: list[MemoryProbe] = [
    _m("Меня зовут Олег.", "Как меня зовут?", "олег"),
    _m("Привет, я Марина, мне 30 лет.", "Сколько мне лет?", "30", "тридцат"),
    _m("Я живу в Новосибирске.", "Где я живу?", "новосибирск"),
    _m("Я работаю электриком.", "Кем я работаю?", "электрик"),
    _m("У меня есть хомяк Бублик.", "Как зовут моего хомяка?", "бублик"),
    _m("Я люблю играть в шахматы.", "Во что я люблю играть?", "шахмат"),
    _m("Скоро я поеду в отпуск в Турцию.", "Куда я собираюсь поехать?", "турци"),
    _m("У меня трое детей.", "Сколько у меня детей?", "трое", "три", "3"),
    _m("Меня зовут Света, я живу в Омске.", "Ты помнишь, как меня зовут?", "свет"),
    _m("Я переехал в Казань в прошлом году.", "В каком городе я живу?", "казан"),
    _m("Я работаю медсестрой в больнице.", "Где я работаю?", "медсестр", "больниц"),
    _m("Моя любимая группа — Кино.", "Какая моя любимая группа?", "кино"),
    _m("У меня есть собака.", "У меня есть собака?", "да"),
    _m("Я учусь в университете на юриста.", "На кого я учусь?", "юрист"),
]
"""14 facts told, asked back after two turns of small talk."""
SMALL_TALK = ("Как у тебя дела?", "Что делаешь сегодня?")
MEMORY_PERSONA = ("Я работаю библиотекарем.", "Я люблю читать книги.", "Я живу в Петербурге.")
FAREWELLS = ("Ну ладно, мне пора. Пока!", "Спасибо за беседу, до свидания!", "Всё, я спать. Спокойной ночи!",
             "Пока-пока!", "Мне надо идти, до встречи!")
NAMES = (("Меня зовут Олег.", "олег"), ("Привет, я Марина!", "марин"), ("Зови меня Кирилл.", "кирилл"),
         ("А меня Настей зовут.", "наст"), ("Моё имя Дмитрий.", "дмитри"))
"""A user's name, told in five ways (stems of it): met («Приятно познакомиться, Олег!»), then greeted by it after /reset."""
UNNAMED = (("Я работаю учителем.", "Я живу в Казани."), ("Раньше я работала бухгалтером.", "У меня трое внуков."),
           ("Я женат, у нас есть дочь.", "Я инженер."), ("Я студент.", "Я люблю рок."), ("Я повар.", "У меня есть попугай."))
"""Personas that give no name, asked it twice."""
TOLD = ("Я вчера ходил в кино на новый фильм.", "У меня есть кот, он очень толстый.", "Я сегодня очень устала на работе.",
        "Мы с друзьями ездили на море.", "Я начал учить испанский язык.", "У меня завтра экзамен по физике.",
        "Я испекла яблочный пирог.", "Я купил новую машину.", "Мой брат женится в субботу.", "Я люблю играть в шахматы.")
"""What a user tells, asking nothing: a person answers it."""
GOODBYE_WORDS = re.compile(r"пока|до свидания|до встречи|до завтра|спокойной ночи|увидимся|счастливо|всего (доброго|хорошего)"
                           r"|удачи|сладких снов|доброй ночи|бывай", re.IGNORECASE)


def reflects(reply: str, stems: frozenset[str]) -> bool:
    found = " ".join(words(reply))
    return any(stem in found for stem in stems)


class Conversations:
    """Users of one ChatService on a temporary database: ``say`` is a user's message as the bot gets it."""

    def __init__(self, chat: ChatService, database: Database) -> None:
        self.chat, self.database = chat, database
        self.exchanges: list[tuple[str, str]] = []
        """Every (message, reply) of the checks, for the turn-taking figures."""

    async def user(self, name: str, persona: Sequence[str]):
        async with self.database.session() as session:
            repo = Repository(session)
            user = await self.chat.ensure_user(repo, "console", name, name)
            created = await repo.create_persona(user, "check", list(persona))
            await repo.set_current_persona(user, created)
            return user

    async def say(self, user, text: str) -> str:
        """The bot's reply to ``text``; "" if it could not give one (the user would have seen an apology)."""
        async with self.database.session() as session:
            try:
                reply = (await self.chat.reply(Repository(session), user, 0, text)).text
            except ReplyFailed:
                reply = ""
        self.exchanges.append((text, reply))
        return reply

    async def reset(self, user) -> None:
        async with self.database.session() as session:
            repo = Repository(session)
            await repo.reset_dialogue(user, await repo.current_persona(user), 0)


async def _consistency(talk: Conversations) -> dict:
    async def one(index: int, item: Consistency) -> dict:
        user = await talk.user(f"consistency-{index}", item.persona)
        earlier = [{"user": q, "bot": await talk.say(user, q)} for q in item.before]
        reply = await talk.say(user, item.question)
        if is_yes_no(item.question):
            consistent = answers_yes(reply) == item.yes
        else:  # it takes for granted what the persona denies: the reply's first sentence denies it («Я веган.»)
            consistent = bool(reply) and denying_fact(item.question, sentences(reply)[:1]) is not None
        return {"persona": list(item.persona), "before": earlier, "question": item.question, "expected": item.yes,
                "reply": reply, "consistent": consistent, "implied": item in IMPLIED}

    async def invented(index: int, item: Invented) -> dict:
        user = await talk.user(f"invented-{index}", item.persona)
        first = await talk.say(user, item.question)
        await talk.say(user, SMALL_TALK[0])
        again = await talk.say(user, item.again)
        kept = bool((content_lemmas(first) & content_lemmas(again)) - GENERIC_LEMMAS - STOP_LEMMAS - {"звать", "год", "любимый", "еда"})
        return {"persona": list(item.persona), "before": [{"user": item.question, "bot": first}], "question": item.again,
                "expected": "the same as before", "reply": again, "consistent": kept}

    rows = await asyncio.gather(*(one(i, item) for i, item in enumerate(CONSISTENCY + IMPLIED)),
                                *(invented(i, item) for i, item in enumerate(INVENTED)))
    hits = sum(row["consistent"] for row in rows)
    implied = [row["consistent"] for row in rows if row.get("implied")]
    return {"consistent": hits, "questions": len(rows), "share": hits / len(rows), "implied": sum(implied),
            "implied_questions": len(implied), "rows": rows}


async def _memory(talk: Conversations) -> dict:
    async def one(index: int, probe: MemoryProbe) -> dict:
        user = await talk.user(f"memory-{index}", MEMORY_PERSONA)
        await talk.say(user, probe.told)
        for line in SMALL_TALK:
            await talk.say(user, line)
        reply = await talk.say(user, probe.question)
        await talk.reset(user)
        after_reset = await talk.say(user, probe.question)
        return {"told": probe.told, "question": probe.question, "reply": reply, "recalled": reflects(reply, probe.stems),
                "reply_after_reset": after_reset, "recalled_after_reset": reflects(after_reset, probe.stems)}

    rows = await asyncio.gather(*(one(i, probe) for i, probe in enumerate(MEMORY)))
    hits = sum(row["recalled"] for row in rows)
    kept = sum(row["recalled_after_reset"] for row in rows)
    return {"recalled": hits, "probes": len(rows), "share": hits / len(rows), "recalled_after_reset": kept, "rows": rows}


async def _farewells(talk: Conversations) -> dict:
    async def one(index: int, goodbye: str) -> dict:
        user = await talk.user(f"farewell-{index}", MEMORY_PERSONA)
        await talk.say(user, "Привет! Как дела?")
        reply = await talk.say(user, goodbye)
        return {"message": goodbye, "reply": reply, "goodbye": bool(GOODBYE_WORDS.search(reply))}

    rows = await asyncio.gather(*(one(i, g) for i, g in enumerate(FAREWELLS)))
    return {"answered": sum(r["goodbye"] for r in rows), "farewells": len(rows), "rows": rows}


async def _names(talk: Conversations) -> dict:
    async def one(index: int, told: str, stem: str) -> dict:
        user = await talk.user(f"name-{index}", MEMORY_PERSONA)
        met = await talk.say(user, told)
        await talk.reset(user)
        greeted = await talk.say(user, "Привет!")
        return {"told": told, "reply": met, "met": reflects(met, frozenset({stem})), "greeting_after_reset": greeted,
                "greeted_by_name": reflects(greeted, frozenset({stem}))}

    rows = await asyncio.gather(*(one(i, told, stem) for i, (told, stem) in enumerate(NAMES)))
    return {"met": sum(r["met"] for r in rows), "greeted_by_name": sum(r["greeted_by_name"] for r in rows),
            "names": len(rows), "rows": rows}


def said_name(reply: str) -> str | None:
    """The first name ``reply`` gives, lower-cased («Меня зовут Женя.» -> «женя»)."""
    return next((word for word in words(reply) if "Name" in parse(word).tag), None)


async def _own_name(talk: Conversations) -> dict:
    async def one(index: int, persona: tuple[str, ...]) -> dict:
        user = await talk.user(f"own-name-{index}", persona)
        first = await talk.say(user, "Как тебя зовут?")
        await talk.say(user, SMALL_TALK[0])
        again = await talk.say(user, "Напомни, как тебя зовут?")
        name = said_name(first)
        return {"persona": list(persona), "reply": first, "reply_again": again, "named": name is not None,
                "kept": name is not None and said_name(again) == name}

    rows = await asyncio.gather(*(one(i, persona) for i, persona in enumerate(UNNAMED)))
    return {"named": sum(r["named"] for r in rows), "kept": sum(r["kept"] for r in rows), "personas": len(rows),
            "rows": rows}


async def _responding(talk: Conversations) -> dict:
    async def one(index: int, told: str) -> dict:
        user = await talk.user(f"told-{index}", MEMORY_PERSONA)
        await talk.say(user, "Привет!")
        reply = await talk.say(user, told)
        return {"told": told, "reply": reply, "responds": bool(reply) and not ignores_the_message([told], reply)}

    rows = await asyncio.gather(*(one(i, told) for i, told in enumerate(TOLD)))
    return {"responded": sum(r["responds"] for r in rows), "told": len(rows), "rows": rows}


def turn_taking(exchanges: Sequence[tuple[str, str]]) -> dict:
    """The ask-back rate and the echoes over (message, reply) pairs."""
    asked = sum(asks_back(reply) for _, reply in exchanges)
    echoes = [{"message": m, "reply": r} for m, r in exchanges if is_echo(r, m)]
    return {"replies": len(exchanges), "ask_back": asked, "ask_back_rate": asked / max(len(exchanges), 1),
            "echoes": len(echoes), "echo_rows": echoes}


def people_ask_back_rate(utterances: Sequence[str]) -> float:
    """The share of people's utterances (the persona chat's) that ask back."""
    return sum(asks_back(u) for u in utterances) / max(len(utterances), 1)


@contextlib.asynccontextmanager
async def conversations(generator: Generator, settings: Settings | None = None) -> AsyncIterator[Conversations]:
    """Users of the bot with ``generator`` (started here, closed at the end), on a temporary database."""
    settings = settings or Settings()
    with tempfile.TemporaryDirectory() as folder:
        database = await Database.open(Path(folder) / "checks.sqlite3")
        try:
            async with database.session() as session:
                await Repository(session).sync_presets(load_presets())
            async with generator:
                yield Conversations(ChatService(generator, settings), database)
        finally:
            await database.close()


async def run_conversations(generator: Generator, settings: Settings | None = None) -> dict:
    """Every check with ``generator`` on a temporary database."""
    async with conversations(generator, settings) as talk:
        result = {"consistency": await _consistency(talk), "memory": await _memory(talk),
                  "farewells": await _farewells(talk), "names": await _names(talk),
                  "own_name": await _own_name(talk), "responding": await _responding(talk)}
        result["turn_taking"] = turn_taking(talk.exchanges)
        return result
