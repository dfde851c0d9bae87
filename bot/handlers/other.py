"""Everything not handled before: unknown commands, non-text messages, edits, stray buttons,
and the error handler that keeps one failing update from affecting any other.

Edited messages (a documented choice): the bot does not re-answer an edit — the original
was already answered and the dialogue moved on — and says so in private chats.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import CallbackQuery, ErrorEvent, Message

from bot import texts
from bot.telegram.addressing import AddressedToBot

log = logging.getLogger(__name__)


async def unknown_command(message: Message) -> None:
    command = (message.text or "").split(maxsplit=1)[0][:64]
    await message.answer(texts.UNKNOWN_COMMAND.format(command=command), parse_mode=None)


async def non_text(message: Message) -> None:
    await message.answer(texts.NON_TEXT)


async def edited(message: Message) -> None:
    await message.answer(texts.EDITED_IGNORED)


async def stray_button(query: CallbackQuery) -> None:
    await query.answer(texts.FEEDBACK_STALE, show_alert=True)


async def on_error(event: ErrorEvent) -> None:
    update = event.update
    log.error("update %s failed", update.update_id, exc_info=event.exception)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.SOMETHING_WRONG, show_alert=True)
        elif update.message is not None:
            await update.message.answer(texts.SOMETHING_WRONG)
    except Exception:  # noqa: BLE001 - e.g. Telegram itself unreachable; already logged above
        log.warning("could not tell the user about the failed update %s", update.update_id)


def build_router() -> Router:
    router = Router(name="other")
    router.message.register(unknown_command, F.text.startswith("/"), AddressedToBot())
    router.message.register(non_text, AddressedToBot())
    router.edited_message.register(edited, F.chat.type == "private")
    router.callback_query.register(stray_button)
    router.errors.register(on_error)
    return router
