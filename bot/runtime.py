"""What every front end needs, opened in one place: the database, the generator, the chat service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.chat import ChatService
from bot.config import Settings
from bot.generation import Generator, build_generator
from bot.personas import load_presets
from bot.storage.database import Database
from bot.storage.repository import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database
    generator: Generator
    chat: ChatService


@asynccontextmanager
async def open_runtime(settings: Settings, generator: Generator | None = None) -> AsyncIterator[Runtime]:
    """Migrate and open the database, sync the preset personas, load and start the generator.

    On exit the generator finishes in-flight replies (bounded by ``shutdown_grace_s``) before
    the database closes, so a reply that was generated is also stored.
    """
    # The model first: a missing model is the likeliest start-up error and needs no cleanup.
    generator = generator or build_generator(settings)
    database = await Database.open(settings.database_target)
    try:
        presets = load_presets()
        async with database.session() as session:
            await Repository(session).sync_presets(presets)
        await generator.start()
        log.info("model %s loaded; database %s", generator.model_id, database.shown)
        try:
            yield Runtime(settings, database, generator, ChatService(generator, settings, default_preset_key=presets[0].key))
        finally:
            await generator.close(settings.shutdown_grace_s)
    finally:
        await database.close()
