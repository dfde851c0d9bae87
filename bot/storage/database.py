"""The SQLite database: migrated to the latest schema on open, then an async engine.

Every connection runs in WAL mode (readers never block the writer), with foreign keys
enforced (the ON DELETE cascades depend on it) and a busy timeout so that concurrent
writers wait instead of failing with "database is locked".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from migrations import MIGRATIONS_DIR

BUSY_TIMEOUT_MS = 5000


def create_engine(path: Path) -> AsyncEngine:
    """An aiosqlite engine for ``path`` with the PRAGMAs set on every new connection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    event.listen(engine.sync_engine, "connect", _set_pragmas)
    return engine


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()
    # Found beside the installed package, not relative to the working directory.
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """The open database; build it with ``await Database.open(path)``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Create the file if needed, apply all migrations, return the ready database."""
        engine = create_engine(Path(path))
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade_to_head)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session, rolled back if the block raises; commits are explicit."""
        async with self.sessionmaker() as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
