"""Shared fixtures. Real data comes from DATA_DIR (default ../shared/data beside the project)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data sets. CI sets REQUIRE_REAL_DATA=1 so that these tests run there, never skip."""
    path = Path(os.environ.get("DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        if os.environ.get("REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"REQUIRE_REAL_DATA=1 but DATA_DIR {path} does not exist")
        pytest.skip(f"real data not found at {path} (set DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random T5 model directory (tokenizer + weights + godel dialogue_format.json)."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_seq2seq"))


@pytest.fixture
def tiny_model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny T5 without conversion caches: the CTranslate2 backend converts into the model
    directory, and a test that converts or saves must not change the shared one."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny", ignore=shutil.ignore_patterns("ctranslate2-*")))


@pytest.fixture(scope="session")
def tiny_causal_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random GPT-2 model directory (concat_causal dialogue_format.json)."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_causal"), causal=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (``tests.servers``)."""
    from tests.servers import postgres_server

    with postgres_server() as url:
        yield url


POSTGRES_PASSWORD = "pg-s3cret"
"""In every test database's URL (the server trusts local connections and ignores it): it must never be logged."""


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own for one test, its URL with a password; dropped after it."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    _postgres_admin(postgres_server_url, f'CREATE DATABASE "{name}"')
    yield f"{postgres_server_url}/{name}".replace("postgres@", f"postgres:{POSTGRES_PASSWORD}@", 1)
    _postgres_admin(postgres_server_url, f'DROP DATABASE "{name}" WITH (FORCE)')


def _postgres_admin(server_url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(f"{server_url}/postgres")
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's database lives: a SQLite file, then a real PostgreSQL database (the same test, twice)."""
    if request.param == "sqlite":
        return tmp_path / "state" / "bot.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real ``redis-server`` for the session (``tests.servers``)."""
    from tests.servers import redis_server

    with redis_server(Path(tempfile.mkdtemp(prefix="persona-bot-redis-"))) as url:
        yield url
