"""/start (greeting + persona choice) and /help."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot import texts
from bot.chat import ChatService
from bot.handlers.persona import persona_menu
from bot.storage.models import User
from bot.storage.repository import Repository


async def start(message: Message, chat: ChatService, repo: Repository, user: User) -> None:
    name = message.from_user.first_name if message.from_user else ""
    menu, keyboard = await persona_menu(chat, repo, user)
    await message.answer(f"{texts.START.format(name=name)}\n\n{menu}", reply_markup=keyboard, parse_mode=None)


async def help_(message: Message, bot: Bot) -> None:
    me = await bot.me()
    await message.answer(texts.HELP.format(username=me.username), parse_mode=None)


def build_router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    return router
