"""What an update asks of the bot, and telling its sender something: shared by the middlewares."""

from __future__ import annotations

from aiogram.types import Message, TelegramObject, Update

from bot.telegram.addressing import is_addressed


async def asks_for_work(event: TelegramObject) -> bool:
    """Does this update ask the bot for work (a message meant for it, or a button press)?"""
    if not isinstance(event, Update):
        return False
    if event.callback_query is not None:
        return True
    message = event.message
    if message is None or message.bot is None:
        return False
    me = await message.bot.me()  # cached by aiogram after the first call: no round trip, no yield
    return is_addressed(message, me.id, me.username or "")


async def chat_text(event: TelegramObject) -> Message | None:
    """The message, if the update is chat text meant for the bot (not a command): what flood control
    counts and what a burst joins into one turn."""
    if not isinstance(event, Update) or event.message is None:
        return None
    text = event.message.text
    if text is None or text.startswith("/") or not await asks_for_work(event):
        return None
    return event.message


async def notify(event: TelegramObject, text: str) -> None:
    """Tell the user ``text``: as a message, or (for a button press) as an alert."""
    if not isinstance(event, Update):
        return
    if event.callback_query is not None:
        await event.callback_query.answer(text, show_alert=True)
    elif event.message is not None:
        await event.message.answer(text)
