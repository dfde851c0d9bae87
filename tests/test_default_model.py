"""The shipped models served by the bot's own generator: the persona probes and the scripted dialogues.

``models/ru-persona-t5`` is self-contained and always tested. The default model
(``models/ru-persona-gemma``: LoRA adapters over Gemma 3 270M) needs its ~1 GB base prepared from
the PyPI package, so it is opt-in: ``PERSONA_BOT_REAL_BASE=1 python -m pytest tests/test_default_model.py -s``.
The probes' share is printed (``-s``), not asserted: a model's hit rate is a measurement, reported in
its card by ``python -m training.evaluation.conversation_checks``; what is asserted is that every reply is Russian text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

from bot import config
from bot.config import Settings
from bot.generation import build_generator
from bot.generation.adapted import is_adapter_dir
from training.evaluation.conversation_checks import PROBES, reflects
from training.evaluation.predict import BOT_DEFAULT

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
SHIPPED = {"default": config.DEFAULT_MODEL_PATH, "t5": config.PROJECT_ROOT / "models" / "ru-persona-t5"}


@pytest.fixture(params=sorted(SHIPPED))
def settings(request: pytest.FixtureRequest) -> Settings:
    # Looked up at run time (not Settings' default): the path the bot uses unless MODEL_PATH is set.
    path: Path = SHIPPED[request.param]
    if not path.is_dir():
        pytest.skip(f"{path} is not shipped")
    if is_adapter_dir(path) and os.environ.get("PERSONA_BOT_REAL_BASE") != "1":
        pytest.skip(f"{path.name} needs its pretrained base (~1 GB, prepared once): set PERSONA_BOT_REAL_BASE=1")
    torch.manual_seed(0)
    # The bot's default decoding, greedy: the same replies, hence the same share, on every run.
    return Settings(model_path=str(path), decoding=BOT_DEFAULT)


async def test_the_model_answers_in_russian(settings: Settings) -> None:
    async with build_generator(settings) as generator:
        result = await generator.generate(("Я люблю читать книги.",), ["Привет! Чем ты занимаешься?"])
    print(f"\n«Привет! Чем ты занимаешься?» -> «{result.text}» ({result.model_id})")
    assert result.text.strip() and CYRILLIC.search(result.text)


async def test_persona_probes(settings: Settings) -> None:
    async with build_generator(settings) as generator:
        replies = [(await generator.generate(p.persona, [p.question])).text for p in PROBES]
    hits = [reflects(reply, p.stems) for reply, p in zip(replies, PROBES)]
    for probe, reply, hit in zip(PROBES, replies, hits):
        print(f"\n[{'+' if hit else ' '}] {probe.persona[0]} | {probe.question} -> {reply}", end="")
    print(f"\npersona probes reflected: {sum(hits)}/{len(hits)} = {sum(hits) / len(hits):.2f} (the bot's default decoding)")
    # Russian text, or a number where one is the answer («Сколько тебе лет?» -> «20»).
    assert all(reply.strip() and (CYRILLIC.search(reply) or reply.strip().isdigit()) for reply in replies)
