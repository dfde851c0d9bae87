"""All reads and writes of the bot go through ``Repository(session)``.

Rules for callers:
* every method that writes does it in one short ``transaction()``, committed before it
  returns, so a write is never lost to a later failure (above all the user's message, stored
  before generation starts) and no write transaction ever spans a generation;
* messages, users and personas may come from another (even closed) session: writes
  address rows by id, never rely on the object being attached to this session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy import inspect as inspect_row
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bot.personas import PresetPersona
from bot.storage import reports
from bot.storage.database import WRITE_LOCK, WRITING
from bot.storage.models import FEEDBACK_KINDS, PLATFORMS, Dialogue, Feedback, Message, Persona, PersonaFact, User
from bot.storage.models import UserFact, utc_now
from dialogue.memory import Fact, remember

MAX_ERROR_CHARS = 500
MAX_USER_FACTS = 50
"""What the bot keeps of one user at most; the oldest facts go first."""
_PRESETS = select(Persona).where(Persona.preset_key.is_not(None))


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, model: type) -> Any:
        """An INSERT with the database's own ON CONFLICT (SQLite's and PostgreSQL's read alike)."""
        dialect = postgresql if self.session.bind.dialect.name == "postgresql" else sqlite
        return dialect.insert(model)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A write transaction: waits its turn on the database's write lock (first come, first served),
        commits at the end of the block, rolls back if it raises. Inside another one it joins it."""
        info = self.session.info
        if info.get(WRITING):
            yield
            return
        await self.release()  # a session waiting its turn holds no pooled connection
        async with info[WRITE_LOCK]:
            info[WRITING] = True
            try:
                yield
                await self.session.commit()
            except BaseException:
                await self.session.rollback()
                raise
            finally:
                info[WRITING] = False

    async def release(self) -> None:
        """End the session's reads and hand its connection back to the pool (it writes nothing: changes
        are only ever made inside ``transaction``). Called before a long wait, such as a generation."""
        if self.session.in_transaction():
            await self.session.commit()

    # -- users and personas ---------------------------------------------------------------

    async def get_or_create_user(self, platform: str, external_id: str, display_name: str | None = None) -> User:
        """The user, created on first contact (safe under concurrent first messages); commits."""
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        async with self.transaction():
            await self.session.execute(
                self._insert(User)
                .values(platform=platform, external_id=external_id, display_name=display_name, created_at=utc_now())
                .on_conflict_do_nothing(index_elements=[User.platform, User.external_id])
            )
            user = await self.session.scalar(select(User).filter_by(platform=platform, external_id=external_id))
            assert user is not None
            if display_name is not None and user.display_name != display_name:
                user.display_name = display_name
        return user

    async def get_user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def sync_presets(self, presets: list[PresetPersona]) -> None:
        """Insert or update the preset personas by key; facts replaced where changed; commits."""
        async with self.transaction():
            existing = {persona.preset_key: persona for persona in await self.session.scalars(_PRESETS)}
            for preset in presets:
                persona = existing.get(preset.key)
                if persona is None:
                    persona = Persona(preset_key=preset.key, title=preset.title)
                    self.session.add(persona)
                persona.title = preset.title
                _set_facts(persona, list(preset.facts))

    async def list_presets(self) -> list[Persona]:
        return list(await self.session.scalars(_PRESETS.order_by(Persona.id)))

    async def get_persona(self, persona_id: int) -> Persona | None:
        return await self.session.get(Persona, persona_id)

    async def create_persona(self, owner: User, title: str, facts: list[str]) -> Persona:
        """A user's own persona (validate with bot.personas first); commits."""
        async with self.transaction():
            persona = Persona(owner_id=owner.id, title=title)
            _set_facts(persona, facts)
            self.session.add(persona)
        return persona

    async def list_personas(self, owner: User, limit: int | None = None) -> list[Persona]:
        """The user's own personas (facts loaded), newest first; at most ``limit`` of them."""
        newest_first = (Persona.created_at.desc(), Persona.id.desc())
        query = select(Persona).where(Persona.owner_id == owner.id).order_by(*newest_first).limit(limit)
        return list(await self.session.scalars(query))

    async def set_current_persona(self, user: User, persona: Persona) -> None:
        """Commits."""
        async with self.transaction():
            await self.session.execute(update(User).where(User.id == user.id).values(current_persona_id=persona.id))
        _assume(user, current_persona_id=persona.id)

    async def current_persona(self, user: User) -> Persona | None:
        persona_id = await self.session.scalar(select(User.current_persona_id).where(User.id == user.id))
        return None if persona_id is None else await self.get_persona(persona_id)

    # -- dialogues and messages -----------------------------------------------------------

    async def active_dialogue(self, user: User, persona: Persona, chat_id: int) -> Dialogue:
        """The open dialogue of this user with this persona in this chat, opened if none; commits."""
        async with self.transaction():
            await self.session.execute(
                self._insert(Dialogue)
                .values(user_id=user.id, persona_id=persona.id, chat_id=chat_id, created_at=utc_now())
                .on_conflict_do_nothing(
                    index_elements=[Dialogue.user_id, Dialogue.persona_id, Dialogue.chat_id],
                    index_where=Dialogue.closed_at.is_(None),
                )
            )
        dialogue = await self.session.scalar(
            select(Dialogue).filter_by(user_id=user.id, persona_id=persona.id, chat_id=chat_id, closed_at=None)
        )
        assert dialogue is not None
        return dialogue

    async def reset_dialogue(self, user: User, persona: Persona, chat_id: int) -> Dialogue:
        """Close the open dialogue (/reset) and open a fresh one, in one transaction; commits."""
        async with self.transaction():
            await self.session.execute(
                update(Dialogue)
                .filter_by(user_id=user.id, persona_id=persona.id, chat_id=chat_id, closed_at=None)
                .values(closed_at=utc_now())
            )
            return await self.active_dialogue(user, persona, chat_id)

    async def add_user_message(self, dialogue: Dialogue, text: str) -> Message:
        """The user's message as "pending"; commits before any generation can fail."""
        async with self.transaction():
            message = Message(dialogue_id=dialogue.id, role="user", text=text, status="pending")
            self.session.add(message)
        return message

    async def add_bot_reply(
        self, user_message: Message, text: str, *, model_id: str, decoding: dict, latency_ms: int,
        candidates: list[dict] | None = None,
    ) -> Message:
        """The reply to ``user_message`` (which becomes "answered"), with the candidates it was selected
        from if any; commits."""
        async with self.transaction():
            reply = Message(
                dialogue_id=user_message.dialogue_id,
                role="bot",
                text=text,
                status="sent",
                reply_to_id=_row_id(user_message),
                model_id=model_id,
                decoding=decoding,
                latency_ms=latency_ms,
                candidates=candidates,
            )
            self.session.add(reply)
            await self._set_status(user_message, "answered", None)
        return reply

    async def mark_failed(self, user_message: Message, error: str, status: str = "failed") -> None:
        """No reply will come: status "failed" (generation error) or "lost" (e.g. shutdown); commits."""
        if status not in ("failed", "lost"):
            raise ValueError(f"status must be 'failed' or 'lost', got {status!r}")
        async with self.transaction():
            await self._set_status(user_message, status, error[:MAX_ERROR_CHARS])

    async def _set_status(self, message: Message, status: str, error: str | None) -> None:
        await self.session.execute(update(Message).where(Message.id == _row_id(message)).values(status=status, error=error))
        _assume(message, status=status, error=error)

    async def history(self, dialogue: Dialogue, limit: int, *, upto: Message | None = None) -> list[Message]:
        """The last ``limit`` messages, oldest first, each reply right after the message it answers.

        Every user message counts (failed ones too: the user did say them). With ``upto``
        (a user message) only what came before it and itself, not its reply: the prompt to
        regenerate that reply.
        """
        thread = func.coalesce(Message.reply_to_id, Message.id)  # a reply sorts with its question
        query = select(Message).where(Message.dialogue_id == dialogue.id)
        if upto is not None:  # earlier threads, and upto itself without its reply
            query = query.where((thread < upto.id) | (Message.id == upto.id))
        newest_first = await self.session.scalars(query.order_by(thread.desc(), Message.id.desc()).limit(limit))
        return list(reversed(newest_first.all()))

    async def pending_messages(self, platform: str | None = None, *, user_id: int | None = None) -> list[Message]:
        """User messages still "pending" (e.g. after a crash), oldest first, with dialogue.user/persona
        loaded; only those of ``platform``'s users, or of one user, if given."""
        query = (
            select(Message)
            .join(Message.dialogue)
            .join(Dialogue.user)
            .where(Message.status == "pending")
            .options(selectinload(Message.dialogue).selectinload(Dialogue.user))
            .options(selectinload(Message.dialogue).selectinload(Dialogue.persona))
            .order_by(Message.id)
        )
        if platform is not None:
            query = query.where(User.platform == platform)
        if user_id is not None:
            query = query.where(User.id == user_id)
        return list(await self.session.scalars(query))

    # -- replies in Telegram, feedback ----------------------------------------------------

    async def set_telegram_ids(self, reply: Message, chat_id: int, message_id: int) -> None:
        """Where the reply was sent, so button callbacks find it; commits."""
        values = {"telegram_chat_id": chat_id, "telegram_message_id": message_id}
        async with self.transaction():
            await self.session.execute(update(Message).where(Message.id == reply.id).values(**values))
        _assume(reply, **values)

    async def find_reply(self, reply_id: int) -> Message | None:
        """A bot reply with reply_to, dialogue, dialogue.user and dialogue.persona loaded."""
        query = (
            select(Message)
            .where(Message.id == reply_id, Message.role == "bot")
            .options(selectinload(Message.reply_to))
            .options(selectinload(Message.dialogue).selectinload(Dialogue.user))
            .options(selectinload(Message.dialogue).selectinload(Dialogue.persona))
        )
        return await self.session.scalar(query)

    async def replace_reply(self, reply: Message, text: str, *, decoding: dict, latency_ms: int, model_id: str,
                            candidates: list[dict] | None = None) -> None:
        """🔄: the same reply row gets the new text (and candidates, if selected); commits."""
        values = {"text": text, "decoding": decoding, "latency_ms": latency_ms, "model_id": model_id,
                  "candidates": candidates}
        async with self.transaction():
            await self.session.execute(update(Message).where(Message.id == reply.id).values(**values))
        _assume(reply, **values)

    async def add_feedback(self, reply: Message, user: User, kind: str) -> Feedback:
        """👍/👎 (one vote per user and reply: a new vote replaces the old) or 🔄; commits."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {FEEDBACK_KINDS}, got {kind!r}")
        async with self.transaction():
            feedback = None
            if kind != "regenerate":
                feedback = await self.session.scalar(
                    select(Feedback).where(
                        Feedback.message_id == reply.id, Feedback.user_id == user.id, Feedback.kind.in_(("up", "down"))
                    )
                )
            if feedback is None:
                feedback = Feedback(message_id=reply.id, user_id=user.id, kind=kind)
                self.session.add(feedback)
            feedback.kind, feedback.created_at = kind, utc_now()
        return feedback

    # -- what the bot knows of the user --------------------------------------------------

    async def user_facts(self, user_id: int) -> list[UserFact]:
        """The user's remembered facts, oldest first."""
        query = select(UserFact).where(UserFact.user_id == user_id).order_by(UserFact.created_at, UserFact.id)
        return list(await self.session.scalars(query))

    async def remember_facts(self, user: User, told: list[Fact], source: Message | None = None) -> list[UserFact]:
        """Add the facts the user just ``told``, each replacing what it makes out of date (``dialogue.memory``);
        commits. Returns the user's facts, oldest first."""
        if not told:
            return await self.user_facts(user.id)
        async with self.transaction():
            rows = await self.user_facts(user.id)
            kept, _ = remember([Fact(r.text, r.slot) for r in rows], told)
            kept = kept[-MAX_USER_FACTS:]
            new = [fact for fact in dict.fromkeys(told) if fact in kept]
            for row in rows:
                fact = Fact(row.text, row.slot)
                if fact not in kept or fact in new:  # out of date, or said again: stored anew as the newest
                    await self.session.delete(row)
            source_id = _row_id(source) if source is not None else None
            self.session.add_all(UserFact(user_id=user.id, slot=f.slot, text=f.text, source_message_id=source_id)
                                 for f in new)
        return await self.user_facts(user.id)

    async def forget_fact(self, user: User, fact_id: int) -> bool:
        """Delete one of the user's own facts; False if they have none with that id. Commits."""
        async with self.transaction():
            result = await self.session.execute(delete(UserFact).where(UserFact.id == fact_id, UserFact.user_id == user.id))
        return result.rowcount > 0

    async def forget_facts(self, user: User) -> int:
        """Delete everything the bot knows of the user; how many facts went. Commits."""
        async with self.transaction():
            result = await self.session.execute(delete(UserFact).where(UserFact.user_id == user.id))
        return result.rowcount

    # -- privacy and reports --------------------------------------------------------------

    async def export_user(self, user: User) -> dict:
        """Everything stored about the user, JSON-serialisable."""
        return await reports.export_user(self.session, user.id)

    async def delete_user(self, user: User) -> None:
        """The user and all that is theirs (the database cascades); presets stay; commits."""
        async with self.transaction():
            await self.session.execute(delete(User).where(User.id == user.id))
        if user in self.session:
            self.session.expunge(user)

    async def stats(self, days: int = 7, *, today: date | None = None) -> dict:
        """Users, messages, replies per UTC day and mean latency over the last ``days`` days, feedback."""
        return await reports.stats(self.session, days, today=today)


def _row_id(row: Any) -> int:
    """A stored row's primary key, read from its identity (no query: also after a rollback expired it)."""
    identity = inspect_row(row).identity
    return row.id if identity is None else identity[0]


def _assume(row: Any, **values: Any) -> None:
    """Give a loaded row the values just written by an UPDATE, as committed state: setting them as
    attributes would mark the row changed, and its next flush would write outside a transaction."""
    for name, value in values.items():
        set_committed_value(row, name, value)


def _set_facts(persona: Persona, texts: list[str]) -> None:
    """Rewrite facts in place by position: delete-then-insert would clash on (persona, position)."""
    facts = persona.facts
    for position, text in enumerate(texts):
        if position < len(facts):
            facts[position].text = text
        else:
            facts.append(PersonaFact(position=position, text=text))
    del facts[len(texts) :]
