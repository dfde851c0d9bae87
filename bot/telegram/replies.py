"""Sending a generated reply: plain text (no parse mode: model or user text can never break
it), the 👍 / 👎 / 🔄 keyboard, and the Telegram ids stored so the buttons find the reply."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ReplyParameters

from sqlalchemy.exc import SQLAlchemyError

from bot import texts
from bot.chat import ChatReply, PendingOutcome
from bot.storage.repository import Repository
from bot.telegram.keyboards import feedback_keyboard

log = logging.getLogger(__name__)
TELEGRAM_TEXT_LIMIT = 4096


def plain(text: str) -> str:
    """Text as Telegram will take it: never empty, never over the length limit."""
    text = text.strip() or "…"
    return text if len(text) <= TELEGRAM_TEXT_LIMIT else text[: TELEGRAM_TEXT_LIMIT - 1] + "…"


async def send_reply(
    bot: Bot, repo: Repository, chat_id: int, reply: ChatReply, *, prefix: str = "", answer_to: int | None = None
) -> None:
    """Send ``reply`` to ``chat_id`` (as a reply to message ``answer_to`` if given, e.g. in groups)."""
    sent = await bot.send_message(
        chat_id,
        plain(prefix + reply.text),
        parse_mode=None,
        reply_markup=feedback_keyboard(reply.message.id) if reply.stored else None,  # buttons find stored replies only
        reply_parameters=ReplyParameters(message_id=answer_to, allow_sending_without_reply=True) if answer_to else None,
    )
    if not reply.stored:
        return
    try:
        await repo.set_telegram_ids(reply.message, sent.chat.id, sent.message_id)
    except SQLAlchemyError as exc:  # the user has the reply; only its buttons will not find it
        log.error("reply %s was sent but its Telegram ids could not be stored: %s", reply.message.id, exc)


async def edit_reply(bot: Bot, reply: ChatReply) -> None:
    """Show a regenerated reply in place of the old text (same message, same buttons)."""
    message = reply.message
    await bot.edit_message_text(
        text=plain(reply.text),
        chat_id=message.telegram_chat_id,
        message_id=message.telegram_message_id,
        parse_mode=None,
        reply_markup=feedback_keyboard(message.id),
    )


async def deliver_pending(bot: Bot, repo: Repository, outcomes: list[PendingOutcome]) -> None:
    """Send what ``ChatService.answer_pending`` made of messages a stop left unanswered: each reply quoted as the
    answer to an earlier message, or the notice that it could not be answered."""
    for outcome in outcomes:
        chat_id = outcome.user_message.dialogue.chat_id
        try:
            if outcome.reply is not None:
                await send_reply(bot, repo, chat_id, outcome.reply, prefix=texts.PENDING_ANSWER_PREFIX)
            else:
                await bot.send_message(chat_id, outcome.notice, parse_mode=None)
        except TelegramAPIError as exc:  # e.g. the user blocked the bot meanwhile
            log.warning("answer to pending message %s not delivered: %s", outcome.user_message.id, exc.message)
