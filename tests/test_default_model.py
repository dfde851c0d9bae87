"""The shipped default model (models/ru-persona-t5) served by the bot's own generator.

Skips only while the model is not shipped. The persona probes report the share of replies that
reflect the persona fact (``-s`` shows it): a figure for the model card, not an assertion,
because a small model's hit rate is a measurement, not a contract.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from bot import config
from bot.config import Settings
from bot.generation import build_generator
from training.predict import GREEDY

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# (persona facts, question, stems of which one in the reply counts as the fact reflected)
PROBES = [
    (("Я работаю врачом.",), "Кем ты работаешь?", {"врач"}),
    (("У меня есть собака.",), "У тебя есть домашние животные?", {"собак", "пес", "пёс"}),
    (("Я живу в Москве.",), "Где ты живёшь?", {"москв"}),
    (("Я играю на гитаре.",), "Ты играешь на каком-нибудь инструменте?", {"гитар"}),
    (("Я учусь в университете.",), "Ты учишься или работаешь?", {"учусь", "университет", "студент"}),
    (("Моя любимая еда — пицца.",), "Какая твоя любимая еда?", {"пицц"}),
    (("У меня двое детей.",), "У тебя есть дети?", {"дет", "сын", "доч"}),
    (("Я люблю читать книги.",), "Чем ты любишь заниматься в свободное время?", {"книг", "чита"}),
]


@pytest.fixture
def settings() -> Settings:
    # Looked up at run time (not Settings' default): the path the bot uses unless MODEL_PATH is set.
    path: Path = config.DEFAULT_MODEL_PATH
    if not path.is_dir():
        pytest.skip(f"the default model is not shipped yet: {path} does not exist")
    torch.manual_seed(0)
    # Greedy: the same replies, hence the same share, on every run.
    return Settings(model_path=str(path), torch_threads=1, decoding=GREEDY)


def reflects(reply: str, stems: set[str]) -> bool:
    return any(stem in reply.lower() for stem in stems)


async def test_the_default_model_answers_in_russian(settings: Settings) -> None:
    async with build_generator(settings) as generator:
        result = await generator.generate(("Я люблю читать книги.",), ["Привет! Чем ты занимаешься?"])
    print(f"\n«Привет! Чем ты занимаешься?» -> «{result.text}» ({result.model_id})")
    assert result.text.strip() and CYRILLIC.search(result.text)


async def test_persona_probes(settings: Settings) -> None:
    async with build_generator(settings) as generator:
        replies = [(await generator.generate(persona, [question])).text for persona, question, _ in PROBES]
    hits = [reflects(reply, stems) for reply, (_, _, stems) in zip(replies, PROBES)]
    for (persona, question, _), reply, hit in zip(PROBES, replies, hits):
        print(f"\n[{'+' if hit else ' '}] {persona[0]} | {question} -> {reply}", end="")
    print(f"\npersona probes reflected: {sum(hits)}/{len(hits)} = {sum(hits) / len(hits):.2f} (greedy)")
    assert all(reply.strip() and CYRILLIC.search(reply) for reply in replies)
