"""The fixed requests of the benchmark: Russian personas and dialogue histories, cycled."""

from __future__ import annotations

from dataclasses import dataclass

PERSONAS = (
    ("Я люблю собак.", "Я работаю программистом в Москве.", "По выходным я играю в футбол."),
    ("Я учусь в университете на втором курсе.", "Моя любимая музыка — рок и джаз.", "Я не пью кофе, только чай."),
    ("У меня две кошки и попугай.", "Я работаю врачом.", "Летом я езжу на море с семьёй."),
    ("Я пеку пироги для всей семьи.", "Мне шестьдесят лет.", "Я выращиваю помидоры на даче."),
    ("Я профессиональный фотограф.", "Я живу в Санкт-Петербурге.", "Я боюсь высоты, но люблю горы."),
)
HISTORIES = (
    ("Привет! Как дела?",),
    ("Привет!", "Привет, как ты?", "Хорошо, спасибо. Чем ты занимаешься?"),
    ("Давай познакомимся, меня зовут Аня.",),
    ("Какая у тебя любимая еда?", "Пицца и борщ. А у тебя?", "Я люблю суши. Ты умеешь готовить?"),
    ("Что ты делал вчера вечером?", "Смотрел фильм.", "Какой? Мне нравятся комедии.", "Старую комедию Гайдая."),
    ("Ты любишь путешествовать?", "Да, очень. Прошлым летом я был в Казани.", "И как тебе там?"),
    ("У тебя есть домашние животные?",),
)


@dataclass(frozen=True)
class Prompt:
    """One request: who the bot is and what was said so far (oldest first)."""

    persona: tuple[str, ...]
    history: tuple[str, ...]


PROMPT_PAIRS = tuple(Prompt(p, h) for h in HISTORIES for p in PERSONAS)


def prompts(count: int) -> list[Prompt]:
    """``count`` requests cycling through every persona x history pair, the same in every run."""
    return [PROMPT_PAIRS[i % len(PROMPT_PAIRS)] for i in range(count)]


def corpus() -> list[str]:
    """The benchmark's own texts, for a scratch tokenizer."""
    return [text for group in (*PERSONAS, *HISTORIES) for text in group]
