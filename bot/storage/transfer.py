"""``python -m bot.storage.transfer``: move the bot's SQLite database to PostgreSQL (or any database it runs on).

Both ends are migrated to the latest schema first; the target must hold no users yet (presets only, or
nothing). Every row is copied with its id, tables in the order their foreign keys need, and PostgreSQL's id
sequences are moved past the copied ids, so the bot started on the target goes on where it stopped. Stop the
bot first: a message written meanwhile would not be copied.

    DATABASE_URL=postgresql://bot:PASSWORD@db/bot python -m bot.storage.transfer --source data/bot.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm

from bot.storage.database import Database, database_url, shown
from bot.storage.models import Base, User

CHUNK = 1000


class TransferError(RuntimeError):
    pass


async def transfer(source: str | Path, target: str | Path, *, progress: bool = True) -> dict[str, int]:
    """Copy every row of ``source`` into ``target``; rows copied per table."""
    if database_url(source) == database_url(target):
        raise TransferError("the source and the target are the same database")
    source_db, target_db = await Database.open(source), await Database.open(target)
    try:
        async with source_db.engine.connect() as reading, target_db.engine.begin() as writing:
            if await writing.scalar(select(func.count()).select_from(User.__table__)):
                raise TransferError(f"{target_db.shown} already has users: transfer only into a new database")
            counts = {}
            for table in reversed(Base.metadata.sorted_tables):
                await writing.execute(delete(table))  # presets the target's start-up wrote: the source has them
            for table in Base.metadata.sorted_tables:
                counts[table.name] = await _copy(table, reading, writing, progress)
            # users name their current persona, personas their owner: the users went first without it
            rows = (await reading.execute(select(User.id, User.current_persona_id)
                                          .where(User.current_persona_id.is_not(None)))).all()
            for user_id, persona_id in rows:
                await writing.execute(update(User.__table__).where(User.id == user_id).values(current_persona_id=persona_id))
            if writing.dialect.name == "postgresql":
                for table in Base.metadata.sorted_tables:
                    await writing.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                               f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
        return counts
    finally:
        await source_db.close()
        await target_db.close()


async def _copy(table: Table, reading: AsyncConnection, writing: AsyncConnection, progress: bool) -> int:
    total = await reading.scalar(select(func.count()).select_from(table))
    copied = 0
    with tqdm(total=total, desc=table.name, unit="row", disable=not progress, file=sys.stderr) as bar:
        result = await reading.stream(select(table).order_by(*table.primary_key.columns))
        async for chunk in result.mappings().partitions(CHUNK):
            rows = [dict(row) for row in chunk]
            if table.name == User.__tablename__:
                rows = [{**row, "current_persona_id": None} for row in rows]
            await writing.execute(table.insert(), rows)
            copied += len(rows)
            bar.update(len(rows))
    return copied


def main(argv: list[str] | None = None) -> int:
    from bot.config import SettingsError, load_settings

    parser = argparse.ArgumentParser(prog="python -m bot.storage.transfer", description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="the SQLite file or database URL to copy (default: DATABASE_PATH)")
    parser.add_argument("--target", help="the database URL to copy into (default: DATABASE_URL)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    source = args.source or settings.database_path
    target = args.target or (settings.database_url.get_secret_value() if settings.database_url else None)
    if target is None:
        print("No target: set DATABASE_URL (postgresql://USER:PASSWORD@HOST/DB) or pass --target.", file=sys.stderr)
        return 2
    source = Path(source) if isinstance(source, Path) or "://" not in source else source
    if isinstance(source, Path) and not source.is_file():
        print(f"No database file at {source}.", file=sys.stderr)
        return 2
    try:
        counts = asyncio.run(transfer(source, target))
    except (TransferError, ValueError) as exc:
        print(f"Transfer failed: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(f"Copied {sum(counts.values())} rows ({rows}) into {shown(database_url(target))}.")
    print("Now start the bot with DATABASE_URL set to it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
