"""👍 / 👎 / 🔄 under every reply. Callback data is checked: the reply must exist and belong
to the user pressing the button, otherwise a polite answer and nothing changes."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery
from aiogram.utils.chat_action import ChatActionSender

from bot import texts
from bot.chat import ChatService, ReplyFailed
from bot.storage.models import Message, User
from bot.storage.repository import Repository
from bot.telegram.addressing import query_chat_id
from bot.telegram.keyboards import FEEDBACK_BUTTONS, FeedbackCallback
from bot.telegram.replies import edit_reply

log = logging.getLogger(__name__)


async def feedback(
    query: CallbackQuery, callback_data: FeedbackCallback, bot: Bot, repo: Repository, user: User, chat: ChatService
) -> None:
    reply = await repo.find_reply(callback_data.reply_id)
    if not _is_own(reply, user) or callback_data.action not in FEEDBACK_BUTTONS:
        log.info("stale or forged feedback %s from user %s", callback_data.pack(), user.id)
        await query.answer(texts.FEEDBACK_STALE, show_alert=True)
        return
    assert reply is not None
    await repo.add_feedback(reply, user, callback_data.action)
    if callback_data.action != "regenerate":
        await query.answer(texts.FEEDBACK_THANKS[callback_data.action])
        return
    await query.answer(texts.REGENERATING)  # at once: Telegram shows a spinner until answered
    chat_id = reply.telegram_chat_id or query_chat_id(query)
    async with ChatActionSender.typing(bot=bot, chat_id=chat_id):
        try:
            variant = await chat.regenerate(repo, reply)
        except ReplyFailed as exc:
            await bot.send_message(chat_id, str(exc), parse_mode=None)
            return
    try:
        await edit_reply(bot, variant)
    except TelegramBadRequest as exc:  # e.g. the same text again: "message is not modified"
        log.info("reply %s not edited: %s", reply.id, exc.message)


def _is_own(reply: Message | None, user: User) -> bool:
    return reply is not None and reply.dialogue.user_id == user.id and reply.telegram_message_id is not None



def build_router() -> Router:
    router = Router(name="feedback")
    router.callback_query.register(feedback, FeedbackCallback.filter())
    return router
