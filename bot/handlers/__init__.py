"""Telegram handlers, one router per feature, built fresh for every dispatcher.

Order matters: the persona form (FSM) sees every message first, while it is open, and ``other``
(unknown commands, non-text, edits, the error handler) comes last.
"""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, chat, feedback, other, persona, privacy, start


def build_routers() -> list[Router]:
    return [module.build_router() for module in (persona, start, admin, privacy, feedback, chat, other)]
