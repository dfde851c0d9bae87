"""/export sends the user's own data as a JSON document; /forget deletes it after a confirmation;
/memory lists what the bot knows of the user and forgets an item or all (``ChatService.memory``).

All three work in private chats only: a group must never see someone's data.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot import texts
from bot.chat import ChatService
from bot.storage.models import User
from bot.storage.repository import Repository
from bot.telegram.keyboards import ForgetCallback, forget_keyboard

EXPORT_FILENAME = "persona-bot-export.json"


async def export(message: Message, chat: ChatService, repo: Repository, user: User) -> None:
    document = BufferedInputFile(await chat.export(repo, user), filename=EXPORT_FILENAME)
    await message.answer_document(document, caption=texts.EXPORT_CAPTION, parse_mode=None)


async def memory(message: Message, command: CommandObject, chat: ChatService, repo: Repository, user: User) -> None:
    await message.answer(await chat.memory(repo, user, command.args or ""), parse_mode=None)


async def forget(message: Message) -> None:
    assert message.from_user is not None
    await message.answer(texts.FORGET_CONFIRM, reply_markup=forget_keyboard(message.from_user.id))


async def forget_answer(
    query: CallbackQuery, callback_data: ForgetCallback, chat: ChatService, repo: Repository, user: User,
    state: FSMContext,
) -> None:
    if callback_data.user_id != query.from_user.id:  # a forwarded or forged button
        await query.answer(texts.NOT_YOUR_BUTTON, show_alert=True)
        return
    text = await chat.forget(repo, user) if callback_data.confirm else texts.FORGET_KEPT
    if callback_data.confirm:
        await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=None)  # the buttons go away: no second press
    else:
        await query.bot.send_message(query.from_user.id, text)


async def private_only(message: Message) -> None:
    await message.answer(texts.PRIVATE_ONLY)


def build_router() -> Router:
    router = Router(name="privacy")
    private = F.chat.type == "private"
    router.message.register(export, Command("export"), private)
    router.message.register(forget, Command("forget"), private)
    router.message.register(memory, Command("memory"), private)
    router.message.register(private_only, Command("export", "forget", "memory"))
    router.callback_query.register(forget_answer, ForgetCallback.filter())
    return router
