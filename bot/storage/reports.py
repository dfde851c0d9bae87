"""Whole-user export (the /export command) and usage statistics (the admin /stats)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import FEEDBACK_KINDS, Dialogue, Feedback, Message, Persona, User, UserFact


async def export_user(session: AsyncSession, user_id: int) -> dict[str, Any]:
    """The user's row, own personas, dialogues with all messages, and feedback; ISO times."""
    # populate_existing: database-side cascades (ON DELETE SET NULL) may have outdated loaded rows
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise LookupError(f"no user {user_id}")
    personas = await session.scalars(
        select(Persona).where(Persona.owner_id == user_id).order_by(Persona.id).execution_options(populate_existing=True)
    )
    dialogue_query = select(Dialogue).where(Dialogue.user_id == user_id).order_by(Dialogue.id)
    dialogues = (await session.scalars(dialogue_query)).all()
    title_query = select(Persona.id, Persona.title).where(Persona.id.in_({d.persona_id for d in dialogues}))
    titles = dict((await session.execute(title_query)).all())
    messages = await session.scalars(
        select(Message).where(Message.dialogue_id.in_([d.id for d in dialogues])).order_by(Message.id)
    )
    by_dialogue: dict[int, list[dict[str, Any]]] = {d.id: [] for d in dialogues}
    for message in messages:
        by_dialogue[message.dialogue_id].append(_message(message))
    feedback = await session.scalars(select(Feedback).where(Feedback.user_id == user_id).order_by(Feedback.id))
    facts = await session.scalars(select(UserFact).where(UserFact.user_id == user_id).order_by(UserFact.created_at, UserFact.id))
    return {
        "exported_at": _iso(datetime.now(timezone.utc)),
        "user": {
            "id": user.id,
            "platform": user.platform,
            "external_id": user.external_id,
            "display_name": user.display_name,
            "created_at": _iso(user.created_at),
            "current_persona_id": user.current_persona_id,
        },
        "personas": [
            {"id": p.id, "title": p.title, "created_at": _iso(p.created_at), "facts": p.fact_texts} for p in personas
        ],
        "dialogues": [
            {
                "id": d.id,
                "persona_id": d.persona_id,
                "persona_title": titles[d.persona_id],
                "chat_id": d.chat_id,
                "created_at": _iso(d.created_at),
                "closed_at": _iso(d.closed_at),
                "messages": by_dialogue[d.id],
            }
            for d in dialogues
        ],
        "memory": [{"id": f.id, "slot": f.slot, "text": f.text, "created_at": _iso(f.created_at)} for f in facts],
        "feedback": [
            {"id": f.id, "message_id": f.message_id, "kind": f.kind, "created_at": _iso(f.created_at)} for f in feedback
        ],
    }


async def stats(session: AsyncSession, days: int = 7, *, today: date | None = None) -> dict[str, Any]:
    """Counts over everything, plus replies per UTC day and mean latency for the last ``days`` days."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = today or datetime.now(timezone.utc).date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, time.min, tzinfo=timezone.utc)
    recent_replies = (Message.role == "bot") & (Message.created_at >= since)
    day = func.date(Message.created_at)
    # SQLite's date() gives text, PostgreSQL's a date: both read as ISO text
    per_day = {str(d): n for d, n in (await session.execute(select(day, func.count()).where(recent_replies).group_by(day))).all()}
    feedback = dict((await session.execute(select(Feedback.kind, func.count()).group_by(Feedback.kind))).all())
    mean_latency = await session.scalar(select(func.avg(Message.latency_ms)).where(recent_replies))
    count_by_role = dict((await session.execute(select(Message.role, func.count()).group_by(Message.role))).all())
    return {
        "users": await session.scalar(select(func.count()).select_from(User)),
        "messages": sum(count_by_role.values()),
        "user_messages": count_by_role.get("user", 0),
        "bot_replies": count_by_role.get("bot", 0),
        "replies_per_day": {
            (first_day + timedelta(days=n)).isoformat(): per_day.get((first_day + timedelta(days=n)).isoformat(), 0)
            for n in range(days)
        },
        "mean_latency_ms": None if mean_latency is None else round(float(mean_latency), 1),
        "feedback": {kind: feedback.get(kind, 0) for kind in FEEDBACK_KINDS},
    }


def _message(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "text": message.text,
        "created_at": _iso(message.created_at),
        "status": message.status,
        "error": message.error,
        "reply_to_id": message.reply_to_id,
        "model_id": message.model_id,
        "decoding": message.decoding,
        "latency_ms": message.latency_ms,
        "candidates": message.candidates,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
