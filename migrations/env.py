"""Alembic environment: SQLite through aiosqlite (batch mode for ALTERs) or PostgreSQL through asyncpg.

Two ways in:
* ``Database.open`` passes its own open connection in ``config.attributes["connection"]``
  (the Alembic cookbook recipe for running migrations from inside an event loop);
* the ``alembic`` command line builds an async engine for DATABASE_URL or DATABASE_PATH (env / `.env`).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.models import Base

config = context.config
if config.config_file_name is not None:  # the command line; Database.open passes no ini file
    fileConfig(config.config_file_name)


def run_migrations(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, batch mode recreates the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_command_line() -> None:
    from bot.config import load_settings
    from bot.storage.database import create_engine

    engine = create_engine(load_settings().database_target)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run against the database")

given = config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    asyncio.run(run_from_command_line())
