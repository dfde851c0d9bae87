"""Chatting: any text meant for the bot gets a generated reply; /reset starts the dialogue anew.

Messages sent while the bot was still answering come as one ``turn`` (``bot.telegram.ordering``)
and get one reply, to the joined text."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from bot.chat import ChatService, InvalidMessage, ReplyFailed
from bot.storage.models import User
from bot.storage.repository import Repository
from bot.telegram.addressing import AddressedToBot, is_private, strip_mention
from bot.telegram.ordering import RedisLines
from bot.telegram.replies import deliver_pending, send_reply


async def reset(message: Message, repo: Repository, user: User, chat: ChatService) -> None:
    await message.answer(await chat.reset(repo, user, message.chat.id))


async def chat_message(
    message: Message, bot: Bot, repo: Repository, user: User, chat: ChatService, turn: list[Message] | None = None,
    lines: RedisLines | None = None,
) -> None:
    if lines is not None:
        # Several workers: one that stopped mid-reply left this user's message pending (its ticket was skipped to
        # reach this turn). It is answered first, in order; messages of this turn are not stored yet.
        await deliver_pending(bot, repo, await chat.answer_pending(repo, "telegram", user=user))
    messages = turn or [message]
    parts = [m.text or "" for m in messages]
    if not is_private(message):
        username = (await bot.me()).username or ""
        parts = [strip_mention(text, username) for text in parts]
    # «печатает…» is re-sent every few seconds until the reply is ready.
    async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id):
        try:
            reply = await chat.reply(repo, user, message.chat.id, parts)
        except (InvalidMessage, ReplyFailed) as exc:
            await message.answer(str(exc), parse_mode=None)
            return
    answer_to = None if is_private(message) else messages[-1].message_id  # in groups: whom the bot answers
    await send_reply(bot, repo, message.chat.id, reply, answer_to=answer_to)


def build_router() -> Router:
    router = Router(name="chat")
    router.message.register(reset, Command("reset"))
    router.message.register(chat_message, F.text, ~F.text.startswith("/"), AddressedToBot())
    return router
