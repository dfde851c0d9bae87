"""Inline keyboards and their typed callback data (aiogram's ``CallbackData`` factory).

Callback data carries ids only; handlers re-check them against the database and the
pressing user, because callback data can be stale (a deleted reply) or forged.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import texts
from bot.chat import PersonaChoices

FEEDBACK_BUTTONS = {"up": "👍", "down": "👎", "regenerate": "🔄"}


class FeedbackCallback(CallbackData, prefix="fb"):
    action: str  # one of FEEDBACK_BUTTONS
    reply_id: int


class PersonaCallback(CallbackData, prefix="persona"):
    persona_id: int  # 0: write your own


class ForgetCallback(CallbackData, prefix="forget"):
    confirm: bool
    user_id: int  # the Telegram user who asked: nobody else can press the buttons


CUSTOM_PERSONA = 0


def feedback_keyboard(reply_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, label in FEEDBACK_BUTTONS.items():
        builder.button(text=label, callback_data=FeedbackCallback(action=action, reply_id=reply_id))
    return builder.as_markup()


def persona_keyboard(choices: PersonaChoices) -> InlineKeyboardMarkup:
    """Presets two per row, the user's own personas one per row (their labels are longer),
    then «✍️ Написать свою» alone."""
    builder = InlineKeyboardBuilder()
    for persona, label in choices.labelled():
        builder.button(text=label, callback_data=PersonaCallback(persona_id=persona.id))
    builder.button(text=texts.PERSONA_CUSTOM_BUTTON, callback_data=PersonaCallback(persona_id=CUSTOM_PERSONA))
    presets = len(choices.presets)
    builder.adjust(*([2] * (presets // 2) + [1] * (presets % 2) + [1] * len(choices.own) + [1]))
    return builder.as_markup()


def forget_keyboard(telegram_user_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=texts.FORGET_YES, callback_data=ForgetCallback(confirm=True, user_id=telegram_user_id))
    builder.button(text=texts.FORGET_NO, callback_data=ForgetCallback(confirm=False, user_id=telegram_user_id))
    return builder.as_markup()
