"""The one path of a user's message: validated -> stored -> model input -> generated -> reply stored.

Both front ends (Telegram and the console) call `ChatService`; neither knows the model's
input format (that is `dialogue/`, applied inside the generator) nor the SQL behind
`Repository`. The user's message is committed before generation starts, so a failed or
interrupted generation never loses it: it stays "failed", or "pending" across a restart, when
`answer_pending` answers it or marks it "lost" with a notice for the user.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from bot import texts
from bot.config import DecodingSettings, Settings
from bot.generation import GenerationError, GenerationResult, GenerationTimeout, Generator
from bot.storage.models import Dialogue, Message, Persona, User
from bot.storage.repository import Repository
from dialogue.memory import self_statements

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096  # Telegram's own limit for one text message
MAX_OWN_PERSONAS_LISTED = 10  # a menu people can still read; older ones stay in the database
REPLY_NOT_STORED = "reply not stored"
"""The error of a user message whose reply was sent but could not be stored."""


class InvalidMessage(ValueError):
    """The text cannot be answered; ``str(exc)`` is a Russian message for the user."""


class ReplyFailed(RuntimeError):
    """Generation failed; the user's message is stored and marked failed. ``str(exc)`` is for the user."""


@dataclass(frozen=True)
class ChatReply:
    message: Message
    """The stored bot reply (unstored, with no id, if storing it failed: see ``stored``)."""
    user_message: Message
    """The user's message it answers."""

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def stored(self) -> bool:
        """False when the database refused the reply: it is still shown, but buttons cannot refer to it."""
        return self.message.id is not None


@dataclass(frozen=True)
class PendingOutcome:
    """What became of a message a stop left unanswered: exactly one of ``reply`` and ``notice``."""

    user_message: Message
    reply: ChatReply | None = None
    notice: str | None = None
    """Russian text telling the user their message was lost (it is marked "lost")."""

    def __post_init__(self) -> None:
        if (self.reply is None) == (self.notice is None):
            raise ValueError("a pending outcome is either a reply or a lost-message notice")


@dataclass(frozen=True)
class PersonaChoices:
    """What a user can switch to: the presets, then their own personas (newest first, capped)."""

    current: Persona | None
    presets: list[Persona]
    own: list[Persona]

    @property
    def numbered(self) -> list[Persona]:
        """Presets first so their numbers never move; own personas continue the numbering."""
        return self.presets + self.own

    def labelled(self) -> list[tuple[Persona, str]]:
        """``numbered`` with each persona's label for a list or a button, the current one marked ✅."""
        labels = [p.title for p in self.presets] + [texts.own_persona_label(p.fact_texts) for p in self.own]
        current_id = self.current.id if self.current else None
        pairs = zip(self.numbered, labels, strict=True)
        return [(p, f"✅ {label}" if p.id == current_id else label) for p, label in pairs]


def _stored_candidates(result: GenerationResult) -> list[dict] | None:
    """The ranked candidates as stored with a reply, the first one shown."""
    if not result.candidates:
        return None
    return [{**candidate.as_dict(), "shown": index == 0} for index, candidate in enumerate(result.candidates)]


def _with_choice(decoding: dict, candidates: list[dict] | None, index: int = 0) -> dict:
    """The decoding record of a reply, naming the stored candidate shown (which source won, and its score)."""
    if not candidates:
        return decoding
    chosen = candidates[index]
    return {**decoding, "chosen": {"index": index, "source": chosen["source"], "score": chosen["score"]}}


def next_candidate(reply: Message) -> tuple[str, dict, list[dict]] | None:
    """For 🔄: the best candidate of ``reply`` not shown yet, as (text, decoding record, candidates with it
    marked shown); None if the reply was not selected or every candidate has been shown."""
    candidates = reply.candidates or []
    index = next((i for i, c in enumerate(candidates) if not c.get("shown")), None)
    if index is None:
        return None
    marked = [{**c, "shown": c.get("shown", False) or i == index} for i, c in enumerate(candidates)]
    return candidates[index]["text"], _with_choice(reply.decoding or {}, candidates, index), marked


def validate_turn(parts: Sequence[str | None]) -> str:
    """The user's messages of one turn, each validated (`validate_message`), joined one a line;
    empty ones are dropped unless all are empty."""
    kept = [part.strip() for part in parts if part is not None and part.strip()]
    return "\n".join(validate_message(text) for text in kept) if kept else validate_message(None)


def validate_message(text: str | None) -> str:
    """Normalise a user's text or raise `InvalidMessage` saying what is wrong, in Russian."""
    if text is None or not text.strip():
        raise InvalidMessage(texts.EMPTY_MESSAGE)
    text = text.strip()
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidMessage(texts.TOO_LONG_MESSAGE.format(limit=MAX_MESSAGE_CHARS))
    # Newlines and tabs are ordinary text; other control characters are never typed by people.
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidMessage(texts.CONTROL_CHARACTERS)
    return text


class ChatService:
    """Chat logic shared by the front ends; the repository is passed per call (one DB session each)."""

    def __init__(self, generator: Generator, settings: Settings, *, default_preset_key: str | None = None) -> None:
        self.generator = generator
        self.settings = settings
        self.default_preset_key = default_preset_key  # a new user's persona; None: the first preset stored

    async def ensure_user(self, repo: Repository, platform: str, external_id: str, display_name: str | None = None) -> User:
        """The user, created on first contact with the first preset persona as the current one."""
        user = await repo.get_or_create_user(platform, external_id, display_name)
        if await repo.current_persona(user) is None:
            presets = await repo.list_presets()
            if presets:
                default = next((p for p in presets if p.preset_key == self.default_preset_key), presets[0])
                await repo.set_current_persona(user, default)
        return user

    async def persona_choices(self, repo: Repository, user: User) -> PersonaChoices:
        current = await repo.current_persona(user)
        own = await repo.list_personas(user, limit=MAX_OWN_PERSONAS_LISTED)
        if current is not None and current.owner_id == user.id and current.id not in {p.id for p in own}:
            own.append(current)  # an old persona switched back to stays visible (and marked)
        return PersonaChoices(current, await repo.list_presets(), own)

    async def reply(self, repo: Repository, user: User, chat_id: int, text: str | Sequence[str]) -> ChatReply:
        """The reply to ``text``: one message, or a turn of several sent together (stored as one turn)."""
        text = validate_message(text) if isinstance(text, str) else validate_turn(text)
        persona = await repo.current_persona(user)
        if persona is None:
            raise InvalidMessage(texts.NO_PERSONA)
        dialogue = await repo.active_dialogue(user, persona, chat_id)
        user_message = await repo.add_user_message(dialogue, text)  # committed: never lost
        await repo.remember_facts(user, self_statements(text), user_message)
        return await self._answer(repo, persona, dialogue, user_message)

    async def reset(self, repo: Repository, user: User, chat_id: int) -> str:
        """/reset in every front end: the current persona's dialogue in this chat starts anew; the text to show."""
        persona = await repo.current_persona(user)
        if persona is None:
            return texts.NO_PERSONA
        await repo.reset_dialogue(user, persona, chat_id)
        return texts.RESET_DONE

    async def export(self, repo: Repository, user: User) -> bytes:
        """/export in every front end: all of the user's data as a JSON document (UTF-8)."""
        data = await repo.export_user(user)
        return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    async def forget(self, repo: Repository, user: User) -> str:
        """/forget, confirmed, in every front end: every row of the user goes; the text to show."""
        await repo.delete_user(user)
        return texts.FORGET_DONE

    async def memory(self, repo: Repository, user: User, argument: str = "") -> str:
        """/memory in every front end: the list of what the bot knows of the user (no argument), ``forget N``
        (also ``delete N``, ``N``) or ``clear``; the text to show."""
        words = argument.lower().split()
        facts = await repo.user_facts(user.id)
        if not words:
            return texts.memory_card([f.text for f in facts])
        if words in (["clear"], ["forget", "all"], ["очистить"], ["забыть", "всё"], ["забыть", "все"]):
            return texts.MEMORY_FORGOT_ALL.format(count=await repo.forget_facts(user))
        item = words[-1] if len(words) == 1 or words[0] in ("forget", "delete", "забыть", "удалить") else None
        if item is None or len(words) > 2 or not item.isdigit():
            return texts.MEMORY_BAD_COMMAND
        if not 1 <= int(item) <= len(facts):
            return texts.MEMORY_NO_ITEM.format(item=item, count=len(facts))
        fact = facts[int(item) - 1]
        await repo.forget_fact(user, fact.id)
        return texts.MEMORY_FORGOT_ONE.format(text=fact.text)

    async def answer_pending(
        self, repo: Repository, platform: str | None = None, *, user: User | None = None
    ) -> list[PendingOutcome]:
        """Answer user messages that a stop left unanswered, oldest first; ones that still fail
        are marked "lost" and come with a notice, so the front end always tells the user.

        ``platform`` keeps each front end to its own users (Telegram cannot deliver to the
        console); ``user`` narrows it to one user (the console answers only its own).
        """
        outcomes = []
        for message in await repo.pending_messages(platform, user_id=user.id if user else None):
            try:
                dialogue = message.dialogue
                reply = await self._answer(repo, dialogue.persona, dialogue, message, failed_status="lost")
            except ReplyFailed:
                log.warning("pending message %s could not be answered after restart: lost", message.id)
                outcomes.append(PendingOutcome(message, notice=texts.pending_lost(message.text)))
            else:
                outcomes.append(PendingOutcome(message, reply=reply))
        return outcomes

    async def regenerate(self, repo: Repository, reply: Message) -> ChatReply:
        """Another variant of a bot reply (as loaded by `Repository.find_reply`), replacing its text: the
        next-best candidate not yet shown, at once, if the reply was selected from several; else sampled."""
        user_message = reply.reply_to
        if (shown := next_candidate(reply)) is not None:
            text, decoding, candidates = shown
            await repo.replace_reply(reply, text, decoding=decoding, latency_ms=0, model_id=reply.model_id or "",
                                     candidates=candidates)
            return ChatReply(message=reply, user_message=user_message)
        decoding = replace(self.generator.default_decoding, strategy="sampling")
        try:
            result = await self._generate(repo, reply.dialogue.persona, reply.dialogue, user_message, decoding)
        except GenerationError as exc:
            log.warning("regeneration of reply %s failed: %s", reply.id, exc)
            raise ReplyFailed(texts.REPLY_FAILED) from exc
        candidates = _stored_candidates(result)
        await repo.replace_reply(reply, result.text, decoding=_with_choice(result.decoding, candidates),
                                 latency_ms=result.latency_ms, model_id=result.model_id, candidates=candidates)
        return ChatReply(message=reply, user_message=user_message)

    async def _answer(
        self, repo: Repository, persona: Persona, dialogue: Dialogue, user_message: Message,
        failed_status: str = "failed",
    ) -> ChatReply:
        """Generate and store the reply; on failure mark ``user_message`` ``failed_status`` and raise ReplyFailed."""
        try:
            result = await self._generate(repo, persona, dialogue, user_message)
        except GenerationTimeout as exc:
            await repo.mark_failed(user_message, "timeout", status=failed_status)
            raise ReplyFailed(texts.REPLY_TIMEOUT) from exc
        except GenerationError as exc:
            log.warning("generation failed for message %s: %s", user_message.id, exc)
            await repo.mark_failed(user_message, type(exc).__name__, status=failed_status)
            raise ReplyFailed(texts.REPLY_FAILED) from exc
        message_id, candidates = user_message.id, _stored_candidates(result)
        try:
            reply = await repo.add_bot_reply(
                user_message, result.text, model_id=result.model_id, decoding=_with_choice(result.decoding, candidates),
                latency_ms=result.latency_ms, candidates=candidates,
            )
        except SQLAlchemyError as exc:
            # The reply exists; the user gets it even though the database refused it, and the message is
            # marked so that it is not answered again after a restart.
            log.error("the reply to message %s was generated but could not be stored: %s", message_id, exc)
            await self._mark_unstored(repo, user_message, message_id)
            reply = Message(role="bot", text=result.text, status="sent", model_id=result.model_id)
        return ChatReply(message=reply, user_message=user_message)

    @staticmethod
    async def _mark_unstored(repo: Repository, user_message: Message, message_id: int) -> None:
        try:
            await repo.mark_failed(user_message, REPLY_NOT_STORED)
        except SQLAlchemyError as exc:  # left "pending": answered again at the next start
            log.error("message %s could not be marked failed either: %s", message_id, exc)

    async def _generate(
        self, repo: Repository, persona: Persona, dialogue: Dialogue, user_message: Message,
        decoding: DecodingSettings | None = None,
    ) -> GenerationResult:
        """Generate the reply to ``user_message`` from the persona and the dialogue up to it."""
        history = await repo.history(dialogue, limit=self.generator.history_limit, upto=user_message)
        known = [fact.text for fact in await repo.user_facts(dialogue.user_id)]
        await repo.release()  # no connection is held while the model works
        return await self.generator.generate(persona.fact_texts, [m.text for m in history], partner=known,
                                             decoding=decoding)
