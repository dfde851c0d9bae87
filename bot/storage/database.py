"""The SQLite database: migrated to the latest schema on open, then an async engine.

Every connection runs in WAL mode (readers never block the writer), with foreign keys
enforced (the ON DELETE cascades depend on it).

Writes never fail for contention. SQLite has one writer at a time, and a writer that finds the
lock taken polls it until its busy timeout runs out. On a saturated machine a write transaction
spans several event-loop turns and thread hops, dozens of updates poll at once, and some gave up
after 5 s with "database is locked" (issue #18). So writes queue *before* they reach SQLite:
``Database.write_lock``, an asyncio lock (first come, first served, no time-out), is held by
every write transaction of this process (``Repository.transaction``), and a session refuses to
flush outside one (``_refuse_unlocked_flush``). Within the process SQLite then never sees two
writers; the busy timeout, sized for a loaded machine, covers other processes on the same file
(a console chat beside the bot, a migration). The driver begins a transaction at its first
INSERT/UPDATE/DELETE, never at a SELECT, so a write never has to upgrade a stale read snapshot
(SQLITE_BUSY_SNAPSHOT, which no timeout cures).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from migrations import MIGRATIONS_DIR

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another *process's* write lock (within the process, writes queue on the lock)."""
WRITE_LOCK = "write_lock"
"""``session.info`` key: the lock of the database the session belongs to."""
WRITING = "writing"
"""``session.info`` key: True while the session is inside a write transaction holding that lock."""


def create_engine(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> AsyncEngine:
    """An aiosqlite engine for ``path`` with the PRAGMAs set on every new connection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")

    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", set_pragmas)
    return engine


class GuardedSession(Session):
    """The database's sessions: a flush outside ``Repository.transaction`` would take SQLite's write lock
    unqueued (and keep it until the session's next commit, possibly across a generation). That is a bug,
    so it fails loudly instead."""


@event.listens_for(GuardedSession, "before_flush")
def _refuse_unlocked_flush(session: Session, _context: Any, _instances: Any) -> None:
    if not session.info.get(WRITING):
        raise RuntimeError("a write outside Repository.transaction(): changed rows must be written inside one")


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
        self.write_lock = asyncio.Lock()
        """Held by every write transaction of this process, in arrival order (see the module docstring)."""
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=GuardedSession, info={WRITE_LOCK: self.write_lock}
        )

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
        """Create the file if needed, apply all migrations, return the ready database."""
        engine = create_engine(Path(path), busy_timeout_ms)
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
