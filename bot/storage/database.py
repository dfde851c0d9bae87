"""The database: migrated to the latest schema on open, then an async engine.

SQLite (a file, the embedded default) or PostgreSQL (``DATABASE_URL``, through asyncpg, for several bot
workers sharing one database). PostgreSQL takes concurrent writers itself; what follows is SQLite's.

Every SQLite connection runs in WAL mode (readers never block the writer), with foreign keys
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
from sqlalchemy import URL, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from migrations import MIGRATIONS_DIR

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another *process's* write lock (within the process, writes queue on the lock)."""
WRITE_LOCK = "write_lock"
"""``session.info`` key: the lock of the database the session belongs to."""
WRITING = "writing"
"""``session.info`` key: True while the session is inside a write transaction holding that lock."""


ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
"""The database kinds the bot runs on, each with its async driver."""


def database_url(target: str | Path) -> URL:
    """The async SQLAlchemy URL of ``target``: a SQLite file's path, or a URL (``sqlite:///…``,
    ``postgresql://user:password@host/db``; the driver is chosen here)."""
    if isinstance(target, Path):
        return URL.create(ASYNC_DRIVERS["sqlite"], database=str(target))
    try:
        url = make_url(target)
    except (ArgumentError, ValueError):  # their messages may quote the URL, password and all
        raise ValueError("DATABASE_URL: expected an SQLAlchemy URL like postgresql://USER:PASSWORD@HOST/DB") from None
    kind = url.get_backend_name()
    if kind not in ASYNC_DRIVERS:
        raise ValueError(f"DATABASE_URL: {kind} is not supported; use sqlite:///PATH or postgresql://USER@HOST/DB")
    return url.set(drivername=ASYNC_DRIVERS[kind])


def shown(url: URL) -> str:
    """``url`` for logs and errors: never its password."""
    return url.render_as_string(hide_password=True)


def create_engine(target: str | Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> AsyncEngine:
    """An async engine for ``target`` (see ``database_url``); SQLite's with the PRAGMAs set on every connection."""
    url = database_url(target)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

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


MIGRATION_LOCK = 4_272_015
"""PostgreSQL advisory lock key held while migrating: workers starting together migrate one after another."""


def _upgrade_to_head(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = Config()
    # Found beside the installed package, not relative to the working directory.
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class _Unqueued:
    """PostgreSQL's stand-in for the write lock: its writers do not queue in the process."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class Database:
    """The open database; build it with ``await Database.open(path or URL)``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.write_lock: asyncio.Lock | _Unqueued = asyncio.Lock() if self.is_sqlite else _Unqueued()
        """SQLite: held by every write transaction of this process, in arrival order (see the module docstring)."""
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=GuardedSession, info={WRITE_LOCK: self.write_lock}
        )

    @classmethod
    async def open(cls, target: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
        """Apply all migrations (a SQLite file is created if needed), return the ready database. ``target``:
        a SQLite file's path or a database URL."""
        engine = create_engine(target, busy_timeout_ms)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade_to_head)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def shown(self) -> str:
        """Where the database is, for logs (no password)."""
        return shown(self.engine.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session, rolled back if the block raises; commits are explicit."""
        async with self.sessionmaker() as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
