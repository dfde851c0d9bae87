"""Is a message meant for the bot? In private chats always; in groups only when the bot is
@mentioned or the message replies to one of the bot's messages (issue: "groups")."""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def mentions(message: Message, username: str) -> bool:
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or []
    wanted = f"@{username}".lower()
    return any(
        e.type == "mention" and e.extract_from(text).lower() == wanted for e in entities
    )


def is_addressed(message: Message, bot_id: int, username: str) -> bool:
    if is_private(message):
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    return mentions(message, username)


def strip_mention(text: str, username: str) -> str:
    """The text without the bot's @username (case-insensitive), for the model."""
    wanted = f"@{username}".lower()
    return " ".join(word for word in text.split(" ") if word.lower().rstrip(",.!?:") != wanted).strip()


class AddressedToBot(Filter):
    """Passes messages meant for the bot (see module docstring)."""

    async def __call__(self, message: Message, bot: Bot) -> bool:
        me = await bot.me()  # cached by aiogram after the first call
        return is_addressed(message, me.id, me.username or "")


def query_chat_id(query: CallbackQuery) -> int:
    """The chat a button was pressed in (the user's private chat if the message is gone)."""
    return query.message.chat.id if query.message is not None else query.from_user.id
