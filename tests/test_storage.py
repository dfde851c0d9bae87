"""The storage layer against a real SQLite file and a real PostgreSQL server, migrated by the real Alembic scripts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text, update

from bot.personas import MAX_FACTS, PersonaError, PresetPersona, load_presets, validate_facts
from bot.storage import Database, Dialogue, Feedback, Message, Persona, PersonaFact, User
from bot.storage.database import BUSY_TIMEOUT_MS, create_engine
from bot.storage.repository import Repository
from dialogue.memory import Fact

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TABLES = {"users", "personas", "persona_facts", "dialogues", "messages", "feedback", "user_facts", "alembic_version"}
DECODING = {"strategy": "greedy", "max_new_tokens": 40}


@pytest.fixture
async def db(database_target: str | Path):
    """The test's database: SQLite, then PostgreSQL (every test that uses it runs on both)."""
    database = await Database.open(database_target)
    yield database
    await database.close()


@pytest.fixture
async def sqlite_db(tmp_path: Path):
    database = await Database.open(tmp_path / "state" / "bot.sqlite3")
    yield database
    await database.close()


@pytest.fixture
async def repo(db: Database):
    async with db.session() as session:
        repository = Repository(session)
        await repository.sync_presets(load_presets())
        yield repository


async def chat_setup(repo: Repository, name: str = "anna", chat_id: int = 0):
    user = await repo.get_or_create_user("console", name)
    persona = (await repo.list_presets())[0]
    await repo.set_current_persona(user, persona)
    return user, persona, await repo.active_dialogue(user, persona, chat_id)


async def exchange(repo: Repository, dialogue: Dialogue, question: str, answer: str, latency_ms: int = 100):
    asked = await repo.add_user_message(dialogue, question)
    reply = await repo.add_bot_reply(asked, answer, model_id="tiny", decoding=DECODING, latency_ms=latency_ms)
    return asked, reply


async def tables_of(target: str | Path) -> set[str]:
    """The tables in the database at ``target``, read without migrating it."""
    engine = create_engine(target)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def table_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# -- schema and connection ----------------------------------------------------------------


async def test_open_migrates_an_empty_file_to_head(tmp_path: Path):
    path = tmp_path / "new" / "dir" / "bot.sqlite3"
    database = await Database.open(path)
    await database.close()
    assert table_names(path) == TABLES
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003",)]


def test_alembic_command_line_upgrade_check_downgrade(database_target: str | Path):
    """On SQLite (DATABASE_PATH) and PostgreSQL (DATABASE_URL) alike."""
    key = "DATABASE_PATH" if isinstance(database_target, Path) else "DATABASE_URL"
    env = {**os.environ, key: str(database_target)}
    env.pop("DATABASE_URL" if key == "DATABASE_PATH" else "DATABASE_PATH", None)

    def alembic(*args: str) -> None:
        command = [sys.executable, "-m", "alembic", *args]
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    alembic("upgrade", "head")
    assert asyncio.run(tables_of(database_target)) == TABLES
    alembic("check")  # the models and the migrations describe the same schema
    alembic("downgrade", "base")
    assert asyncio.run(tables_of(database_target)) == {"alembic_version"}
    alembic("upgrade", "head")
    assert asyncio.run(tables_of(database_target)) == TABLES


async def test_every_connection_has_wal_foreign_keys_and_busy_timeout(sqlite_db: Database):
    async with sqlite_db.session() as first, sqlite_db.session() as second:
        for session in (first, second):
            pragma = lambda name: session.scalar(text(f"PRAGMA {name}"))  # noqa: E731
            assert await pragma("journal_mode") == "wal"
            assert await pragma("foreign_keys") == 1
            assert await pragma("busy_timeout") == BUSY_TIMEOUT_MS


async def test_data_survives_closing_and_reopening(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path)
    async with database.session() as session:
        repo = Repository(session)
        await repo.sync_presets(load_presets())
        user, persona, dialogue = await chat_setup(repo)
        await exchange(repo, dialogue, "Привет!", "Здравствуй!")
    await database.close()

    database = await Database.open(path)
    async with database.session() as session:
        repo = Repository(session)
        again = await repo.get_or_create_user("console", "anna")
        assert again.id == user.id
        assert (await repo.current_persona(again)).id == persona.id
        assert [m.text for m in await repo.history(dialogue, 10)] == ["Привет!", "Здравствуй!"]
    await database.close()


# -- chat ---------------------------------------------------------------------------------


async def test_user_message_is_committed_before_anything_else(db: Database, repo: Repository):
    _, _, dialogue = await chat_setup(repo)
    message = await repo.add_user_message(dialogue, "Как дела?")
    async with db.session() as independent:
        seen = await independent.get(Message, message.id)
        assert (seen.text, seen.status, seen.role) == ("Как дела?", "pending", "user")


async def test_get_or_create_user_is_idempotent_and_updates_the_name(repo: Repository):
    first = await repo.get_or_create_user("telegram", "42", "Аня")
    second = await repo.get_or_create_user("telegram", "42", "Анна")
    assert first.id == second.id and second.display_name == "Анна"
    assert (await repo.get_or_create_user("console", "42")).id != first.id
    with pytest.raises(ValueError):
        await repo.get_or_create_user("vk", "42")


async def test_active_dialogue_resumes_per_persona_and_chat(repo: Repository):
    user, teacher, with_teacher = await chat_setup(repo)
    driver = (await repo.list_presets())[3]
    with_driver = await repo.active_dialogue(user, driver, 0)
    assert with_driver.id != with_teacher.id
    assert (await repo.active_dialogue(user, teacher, 0)).id == with_teacher.id  # switching back resumes
    assert (await repo.active_dialogue(user, teacher, -100500)).id not in {with_teacher.id, with_driver.id}


async def test_reset_closes_the_open_dialogue_and_opens_a_new_one(repo: Repository):
    user, persona, old = await chat_setup(repo)
    await exchange(repo, old, "Привет", "Привет!")
    new = await repo.reset_dialogue(user, persona, 0)
    assert new.id != old.id and new.closed_at is None
    assert (await repo.active_dialogue(user, persona, 0)).id == new.id
    closed = await repo.session.get(Dialogue, old.id, populate_existing=True)
    assert closed.closed_at is not None
    assert await repo.history(new, 10) == []


async def test_history_orders_replies_after_their_question_and_applies_the_limit(repo: Repository):
    _, _, dialogue = await chat_setup(repo)
    await exchange(repo, dialogue, "один", "ответ один")
    failed = await repo.add_user_message(dialogue, "два")
    await repo.mark_failed(failed, "timeout")
    third = await repo.add_user_message(dialogue, "три")
    fourth = await repo.add_user_message(dialogue, "четыре")  # sent before "три" was answered
    await repo.add_bot_reply(third, "ответ три", model_id="tiny", decoding=DECODING, latency_ms=5)
    texts = lambda messages: [m.text for m in messages]  # noqa: E731
    assert texts(await repo.history(dialogue, 10)) == ["один", "ответ один", "два", "три", "ответ три", "четыре"]
    assert texts(await repo.history(dialogue, 3)) == ["три", "ответ три", "четыре"]
    assert texts(await repo.history(dialogue, 10, upto=third)) == ["один", "ответ один", "два", "три"]
    assert fourth.status == "pending"


async def test_pending_messages_come_with_user_persona_and_facts(db: Database, repo: Repository):
    user, persona, dialogue = await chat_setup(repo)
    await exchange(repo, dialogue, "отвечено", "да")
    lost = await repo.add_user_message(dialogue, "потеряно")
    await repo.mark_failed(lost, "shutdown", status="lost")
    waiting = await repo.add_user_message(dialogue, "жду ответа")
    with pytest.raises(ValueError):
        await repo.mark_failed(waiting, "x", status="answered")
    async with db.session() as session:
        pending = await Repository(session).pending_messages()
    assert [m.id for m in pending] == [waiting.id]  # usable after the session is closed:
    assert pending[0].dialogue.user.external_id == "anna"
    assert pending[0].dialogue.persona.fact_texts == list(load_presets()[0].facts)
    assert pending[0].dialogue.chat_id == 0
    ivan, _, ivans_dialogue = await chat_setup(repo, "ivan")
    ivans = await repo.add_user_message(ivans_dialogue, "и я жду")
    assert [m.id for m in await repo.pending_messages("console", user_id=ivan.id)] == [ivans.id]
    assert [m.id for m in await repo.pending_messages("console")] == [waiting.id, ivans.id]
    assert await repo.pending_messages("telegram") == []


async def test_reply_telegram_ids_find_and_replace(db: Database, repo: Repository):
    user, _, dialogue = await chat_setup(repo)
    asked, reply = await exchange(repo, dialogue, "Кто ты?", "Учитель.")
    await repo.set_telegram_ids(reply, chat_id=777, message_id=12)
    await repo.replace_reply(reply, "Я учительница.", decoding={"strategy": "beam"}, latency_ms=7, model_id="tiny-2")
    assert await repo.find_reply(asked.id) is None  # a user message is not a reply
    async with db.session() as session:
        found = await Repository(session).find_reply(reply.id)
    assert (found.text, found.decoding, found.latency_ms) == ("Я учительница.", {"strategy": "beam"}, 7)
    assert found.model_id == "tiny-2"
    assert (found.telegram_chat_id, found.telegram_message_id) == (777, 12)
    assert found.reply_to.text == "Кто ты?" and found.reply_to.status == "answered"
    assert found.dialogue.user.id == user.id and found.dialogue.persona.facts


async def test_feedback_votes_replace_each_other_and_kinds_are_checked(repo: Repository):
    user, _, dialogue = await chat_setup(repo)
    _, reply = await exchange(repo, dialogue, "Привет", "Привет!")
    await repo.add_feedback(reply, user, "up")
    await repo.add_feedback(reply, user, "down")
    await repo.add_feedback(reply, user, "regenerate")
    await repo.add_feedback(reply, user, "regenerate")
    kinds = await repo.session.scalars(select(Feedback.kind).where(Feedback.message_id == reply.id).order_by(Feedback.id))
    assert kinds.all() == ["down", "regenerate", "regenerate"]
    with pytest.raises(ValueError):
        await repo.add_feedback(reply, user, "love")


async def test_user_personas_and_current_persona(repo: Repository):
    user = await repo.get_or_create_user("telegram", "1")
    assert await repo.current_persona(user) is None
    own = await repo.create_persona(user, "Космонавт", ["Я летал в космос.", "Я люблю борщ."])
    await repo.set_current_persona(user, own)
    current = await repo.current_persona(user)
    assert (current.id, current.owner_id, current.fact_texts) == (own.id, user.id, ["Я летал в космос.", "Я люблю борщ."])
    assert own.id not in [p.id for p in await repo.list_presets()]


async def test_list_personas_is_the_owners_own_newest_first(db: Database, repo: Repository):
    anna, ivan = await repo.get_or_create_user("telegram", "1"), await repo.get_or_create_user("telegram", "2")
    made = [await repo.create_persona(anna, "Своя", [f"Факт номер {n}.", "Второй факт."]) for n in range(3)]
    await repo.create_persona(ivan, "Чужая", ["Я не Аннина персона."])
    async with db.session() as session:  # facts usable after the session is closed
        listed = await Repository(session).list_personas(anna)
    assert [p.id for p in listed] == [p.id for p in reversed(made)]
    assert listed[0].fact_texts == ["Факт номер 2.", "Второй факт."]
    assert [p.id for p in await repo.list_personas(anna, limit=2)] == [made[2].id, made[1].id]
    assert await repo.list_personas(await repo.get_or_create_user("console", "new")) == []


# -- writes under contention ---------------------------------------------------------------


async def test_writers_queue_behind_a_long_transaction_instead_of_failing(tmp_path: Path):
    """Many sessions write while one holds its write transaction ten times longer than SQLite's busy
    timeout: without the queue they give up with "database is locked" (checked below on a plain
    connection, so the condition is real); through the repository every write lands, in arrival order."""
    database = await Database.open(tmp_path / "bot.sqlite3", busy_timeout_ms=100)
    async with database.session() as session:
        await Repository(session).sync_presets(load_presets())
    holding, released = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> None:
        async with database.session() as session:
            repo = Repository(session)
            async with repo.transaction():
                await repo.get_or_create_user("console", "holder")
                holding.set()
                await asyncio.sleep(1.0)
            released.set()

    async def conversation(n: int) -> None:
        async with database.session() as session:
            repo = Repository(session)
            user, persona, dialogue = await chat_setup(repo, f"user{n}")
            for turn in range(3):
                await exchange(repo, dialogue, f"{n}: вопрос {turn}", f"{n}: ответ {turn}")

    def unqueued_write() -> str:
        with sqlite3.connect(tmp_path / "bot.sqlite3", timeout=0.1) as connection:
            try:
                connection.execute("UPDATE users SET display_name = 'x' WHERE external_id = 'nobody'")
            except sqlite3.OperationalError as exc:
                return str(exc)
        return "written"

    try:
        holder = asyncio.create_task(long_transaction())
        await holding.wait()
        writers = [asyncio.create_task(conversation(n)) for n in range(30)]
        assert await asyncio.to_thread(unqueued_write) == "database is locked"
        await asyncio.gather(holder, *writers)
        assert released.is_set()
    finally:
        await database.close()
    with sqlite3.connect(tmp_path / "bot.sqlite3") as connection:
        assert connection.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 31
        by_dialogue = connection.execute(
            "SELECT dialogue_id, group_concat(text, '|') FROM (SELECT * FROM messages ORDER BY id) GROUP BY dialogue_id"
        ).fetchall()
    assert len(by_dialogue) == 30
    for _, texts in by_dialogue:  # each conversation whole and in order
        n = texts.split(":")[0]
        assert texts.split("|") == [f"{n}: {kind} {turn}" for turn in range(3) for kind in ("вопрос", "ответ")]


async def test_concurrent_first_messages_make_one_user_and_one_open_dialogue(db: Database):
    """Twenty sessions at once (a burst, or several workers on PostgreSQL): one user, one open dialogue, every
    message stored."""
    async with db.session() as session:
        await Repository(session).sync_presets(load_presets())

    async def first_message(n: int) -> int:
        async with db.session() as session:
            repo = Repository(session)
            user = await repo.get_or_create_user("telegram", "42", "Anna")
            persona = (await repo.list_presets())[0]
            dialogue = await repo.active_dialogue(user, persona, chat_id=42)
            await repo.add_user_message(dialogue, f"сообщение {n}")
            return dialogue.id

    assert len(set(await asyncio.gather(*(first_message(n) for n in range(20))))) == 1
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1
        assert await session.scalar(select(func.count()).select_from(Dialogue)) == 1
        assert await session.scalar(select(func.count()).select_from(Message)) == 20


async def test_a_change_written_outside_a_transaction_is_refused(repo: Repository):
    user = await repo.get_or_create_user("console", "anna")
    user.display_name = "Анна"  # a change that a later query would flush, unqueued
    with pytest.raises(RuntimeError, match="outside Repository.transaction"):
        await repo.list_personas(user)  # a query: the session flushes first


async def test_a_failed_write_is_rolled_back_and_the_session_stays_usable(repo: Repository):
    user, persona, dialogue = await chat_setup(repo)
    asked = await repo.add_user_message(dialogue, "Привет")
    with pytest.raises(ValueError):
        async with repo.transaction():
            await repo.session.execute(update(User).where(User.id == user.id).values(display_name="never"))
            raise ValueError("fails half-way")
    await repo.mark_failed(asked, "timeout")  # the rollback expired it; it is still addressed by its id
    assert await repo.session.scalar(select(User.display_name)) is None  # "never" was rolled back
    assert await repo.session.scalar(select(Message.status)) == "failed"


# -- export, deletion, stats --------------------------------------------------------------


async def test_export_contains_everything_of_the_user(repo: Repository):
    user, preset, dialogue = await chat_setup(repo)
    own = await repo.create_persona(user, "Космонавт", ["Я летал в космос."])
    _, reply = await exchange(repo, dialogue, "Привет", "Здравствуй")
    await repo.add_feedback(reply, user, "up")
    await repo.active_dialogue(user, own, 0)
    exported = json.loads(json.dumps(await repo.export_user(user)))  # JSON-serialisable
    assert exported["user"]["external_id"] == "anna"
    assert exported["user"]["current_persona_id"] == preset.id
    assert exported["personas"] == [
        {"id": own.id, "title": "Космонавт", "created_at": own.created_at.isoformat(), "facts": ["Я летал в космос."]}
    ]
    first = exported["dialogues"][0]
    assert first["persona_title"] == preset.title
    assert [(m["role"], m["text"], m["status"]) for m in first["messages"]] == [
        ("user", "Привет", "answered"),
        ("bot", "Здравствуй", "sent"),
    ]
    assert first["messages"][1]["decoding"] == DECODING
    assert datetime.fromisoformat(first["created_at"]).tzinfo == timezone.utc
    assert exported["dialogues"][1]["messages"] == []
    assert [(f["message_id"], f["kind"]) for f in exported["feedback"]] == [(reply.id, "up")]


async def test_delete_user_removes_all_their_rows_and_keeps_presets_and_others(repo: Repository):
    anna, preset, dialogue = await chat_setup(repo, "anna")
    own = await repo.create_persona(anna, "Космонавт", ["Я летал в космос."])
    _, reply = await exchange(repo, await repo.active_dialogue(anna, own, 0), "Ты кто?", "Космонавт")
    await repo.add_feedback(reply, anna, "up")
    await exchange(repo, dialogue, "Привет", "Здравствуй")
    boris, _, boris_dialogue = await chat_setup(repo, "boris")
    await repo.set_current_persona(boris, own)  # would dangle without ON DELETE SET NULL
    _, boris_reply = await exchange(repo, boris_dialogue, "Алло", "Слушаю")
    await repo.add_feedback(boris_reply, boris, "down")

    await repo.delete_user(anna)
    count = lambda model, *where: repo.session.scalar(select(func.count()).select_from(model).where(*where))  # noqa: E731
    assert await count(User, User.id == anna.id) == 0
    assert await count(Persona, Persona.owner_id == anna.id) == 0
    assert await count(PersonaFact, PersonaFact.persona_id == own.id) == 0
    assert await count(Dialogue, Dialogue.user_id == anna.id) == 0
    assert await count(Message) == 2  # boris's exchange only
    assert await count(Feedback, Feedback.user_id == anna.id) == 0
    assert len(await repo.list_presets()) == len(load_presets())
    assert (await repo.export_user(boris))["user"]["current_persona_id"] is None
    assert [f["kind"] for f in (await repo.export_user(boris))["feedback"]] == ["down"]


async def test_stats_on_known_data(repo: Repository):
    today = date(2025, 3, 10)
    user, _, dialogue = await chat_setup(repo, "anna")
    await repo.get_or_create_user("telegram", "5")
    replies = []
    for n, latency in enumerate((100, 200, 600)):
        replies.append((await exchange(repo, dialogue, f"вопрос {n}", f"ответ {n}", latency))[1])
    await repo.add_feedback(replies[0], user, "up")
    await repo.add_feedback(replies[1], user, "up")
    await repo.add_feedback(replies[2], user, "down")
    noon = lambda day: datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)  # noqa: E731
    for reply, day in zip(replies, (today, today - timedelta(days=2), today - timedelta(days=30))):
        await repo.session.execute(update(Message).where(Message.id == reply.id).values(created_at=noon(day)))
    await repo.session.commit()

    stats = await repo.stats(days=3, today=today)
    assert stats["users"] == 2
    assert (stats["messages"], stats["user_messages"], stats["bot_replies"]) == (6, 3, 3)
    assert stats["replies_per_day"] == {"2025-03-08": 1, "2025-03-09": 0, "2025-03-10": 1}
    assert stats["mean_latency_ms"] == 150.0  # the 30-day-old reply is outside the window
    assert stats["feedback"] == {"up": 2, "down": 1, "regenerate": 0}
    assert (await repo.stats(days=1, today=date(2030, 1, 1)))["mean_latency_ms"] is None


# -- personas -----------------------------------------------------------------------------


def test_preset_file_is_valid():
    presets = load_presets()
    assert len(presets) == 15 and len({p.key for p in presets}) == 15
    for preset in presets:
        assert 4 <= len(preset.facts) <= 6
        assert validate_facts(list(preset.facts)) == list(preset.facts)


def test_duplicate_preset_keys_are_rejected(tmp_path: Path):
    path = tmp_path / "personas.json"
    path.write_text(json.dumps([{"key": "a", "title": "А", "facts": ["Я кот."]}] * 2), encoding="utf-8")
    with pytest.raises(PersonaError, match="повторяются"):
        load_presets(path)


async def test_sync_presets_is_idempotent_and_applies_changes(repo: Repository):
    presets = load_presets()
    before = {p.preset_key: (p.id, [f.id for f in p.facts]) for p in await repo.list_presets()}
    await repo.sync_presets(presets)
    assert {p.preset_key: (p.id, [f.id for f in p.facts]) for p in await repo.list_presets()} == before
    assert await repo.session.scalar(select(func.count()).select_from(PersonaFact)) == sum(len(p.facts) for p in presets)

    changed = replace(presets[0], title="Новая", facts=("Я новый факт.", presets[0].facts[0]))
    await repo.sync_presets([changed, *presets[1:], PresetPersona("extra", "Ещё", ("Я новенький.",))])
    fresh = {p.preset_key: p for p in await repo.list_presets()}
    assert (fresh[changed.key].title, fresh[changed.key].fact_texts) == ("Новая", list(changed.facts))
    assert fresh[changed.key].id == before[changed.key][0] and len(fresh) == 16


def test_validate_facts_strips_and_drops_empty_lines():
    assert validate_facts(["  Я врач. ", "", "   ", "У меня есть кот."]) == ["Я врач.", "У меня есть кот."]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "хотя бы один"),
        (["", "  "], "хотя бы один"),
        ([f"Факт номер {n}." for n in range(MAX_FACTS + 1)], "Слишком много"),
        (["Я врач.", "ок"], "Факт 2 слишком короткий"),
        (["Я" * 201], "Факт 1 слишком длинный"),
        (["Я люблю\x00 чай."], "непечатаемые"),
        (["Я\tврач."], "непечатаемые"),
    ],
)
def test_validate_facts_rejects_bad_input(lines: list[str], message: str):
    with pytest.raises(PersonaError, match=message):
        validate_facts(lines)


# -- SQLite -> PostgreSQL -----------------------------------------------------------------


async def _filled_sqlite(path: Path) -> tuple[int, int]:
    """A SQLite database with two users' chats, a custom persona, feedback and remembered facts."""
    database = await Database.open(path)
    async with database.session() as session:
        repo = Repository(session)
        await repo.sync_presets(load_presets())
        user, _, dialogue = await chat_setup(repo, "anna")
        _, reply = await exchange(repo, dialogue, "Привет!", "Здравствуй!")
        await repo.add_feedback(reply, user, "up")
        own = await repo.create_persona(user, "Космонавт", ["Я космонавт.", "Я люблю звёзды."])
        await repo.set_current_persona(user, own)
        await exchange(repo, await repo.active_dialogue(user, own, 0), "Кем ты работаешь?", "Я космонавт.")
        asked = await repo.add_user_message(dialogue, "Меня зовут Анна.")
        await repo.remember_facts(user, [Fact("Меня зовут Анна.", "name")], asked)
        other, _, their = await chat_setup(repo, "boris")
        await exchange(repo, their, "Как дела?", "Хорошо.")
    await database.close()
    return user.id, other.id


async def test_transfer_copies_everything_to_postgresql_and_the_bot_goes_on_there(tmp_path: Path, postgres_url: str):
    from bot.storage.transfer import transfer

    source = tmp_path / "bot.sqlite3"
    anna, boris = await _filled_sqlite(source)
    counts = await transfer(source, postgres_url, progress=False)
    assert counts["users"] == 2 and counts["messages"] == 7 and counts["user_facts"] == 1
    exports = []
    for target in (source, postgres_url):
        database = await Database.open(target)
        async with database.session() as session:
            repo = Repository(session)
            exports.append([await repo.export_user(await repo.get_user(i)) for i in (anna, boris)])
            assert (await repo.current_persona(await repo.get_user(anna))).title == "Космонавт"
        await database.close()
    for copied in (exports[0], exports[1]):
        for export in copied:
            export.pop("exported_at")
    assert exports[1] == exports[0]
    # new rows get new ids on PostgreSQL (its sequences moved past the copied ones)
    database = await Database.open(postgres_url)
    async with database.session() as session:
        repo = Repository(session)
        carl, _, dialogue = await chat_setup(repo, "carl")
        asked, reply = await exchange(repo, dialogue, "Привет!", "Привет!")
        assert carl.id == 3 and asked.id == 8 and reply.id == 9
    await database.close()
    with pytest.raises(Exception, match="already has users"):
        await transfer(source, postgres_url, progress=False)


def test_transfer_command_line_says_where_and_never_the_password(tmp_path: Path, postgres_url: str):
    from tests.conftest import POSTGRES_PASSWORD

    source = tmp_path / "bot.sqlite3"
    asyncio.run(_filled_sqlite(source))
    env = {**os.environ, "DATABASE_URL": postgres_url, "DATABASE_PATH": str(source)}
    done = subprocess.run([sys.executable, "-m", "bot.storage.transfer"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert re.search(r"Copied \d+ rows \(users 2, personas \d+", done.stdout) and POSTGRES_PASSWORD not in done.stdout + done.stderr
    again = subprocess.run([sys.executable, "-m", "bot.storage.transfer"], cwd=PROJECT_ROOT, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 1 and "already has users" in again.stderr and POSTGRES_PASSWORD not in again.stderr
