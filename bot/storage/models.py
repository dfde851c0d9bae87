"""The bot's tables as SQLAlchemy 2 typed models.

The schema itself is created by Alembic (``migrations/``); these classes must match it,
which ``alembic check`` verifies in the tests. All times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, MetaData, String, Text
from sqlalchemy import UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

PLATFORMS = ("telegram", "console")
ROLES = ("user", "bot")
# user messages: pending -> answered | failed | lost; bot messages are always "sent"
MESSAGE_STATUSES = ("pending", "answered", "failed", "lost", "sent")
FEEDBACK_KINDS = ("up", "down", "regenerate")
FACT_SLOTS = ("name", "age", "city", "job", "family", "pets", "likes", "plans", "other")  # dialogue.memory.SLOTS


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite keeps no offset) and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


class Base(DeclarativeBase):
    # Named constraints: SQLite batch migrations can only alter constraints that have names.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime()}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id"), _one_of("platform", PLATFORMS))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))  # Telegram user id as text, or the console name
    display_name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # use_alter: users and personas refer to each other, so table order alone cannot satisfy both
    current_persona_id: Mapped[int | None] = mapped_column(
        ForeignKey("personas.id", ondelete="SET NULL", use_alter=True)
    )


class Persona(Base):
    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    preset_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # NULL for user-made personas
    title: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    # Always loaded with the persona: every user of a persona needs its facts, and lazy
    # loading is not possible in async code.
    facts: Mapped[list[PersonaFact]] = relationship(
        order_by="PersonaFact.position", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def fact_texts(self) -> list[str]:
        return [fact.text for fact in self.facts]


class PersonaFact(Base):
    __tablename__ = "persona_facts"
    __table_args__ = (UniqueConstraint("persona_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"))
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)


class Dialogue(Base):
    __tablename__ = "dialogues"
    __table_args__ = (
        # At most one open dialogue per user, persona and chat, even under concurrent updates.
        Index(
            "uq_dialogues_open",
            "user_id",
            "persona_id",
            "chat_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)  # the Telegram chat; 0 in the console
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    closed_at: Mapped[datetime | None]  # set by /reset

    user: Mapped[User] = relationship(lazy="raise")
    persona: Mapped[Persona] = relationship(lazy="raise")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        _one_of("role", ROLES),
        _one_of("status", MESSAGE_STATUSES),
        Index(None, "dialogue_id", "id"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(500))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    model_id: Mapped[str | None] = mapped_column(String(256))
    decoding: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    latency_ms: Mapped[int | None]
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """A selected reply's ranked candidates (``Candidate.as_dict`` + ``shown``), best first; None without selection."""

    dialogue: Mapped[Dialogue] = relationship(lazy="raise")
    reply_to: Mapped[Message | None] = relationship(remote_side=[id], lazy="raise")


class UserFact(Base):
    """Something a user said about themself, remembered across dialogues, personas and restarts
    (``dialogue.memory``); the user sees and deletes these with /memory."""

    __tablename__ = "user_facts"
    __table_args__ = (_one_of("slot", FACT_SLOTS),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    slot: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    """When it was last said: the newest fact wins."""
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (_one_of("kind", FEEDBACK_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
