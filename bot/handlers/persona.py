"""/persona: the current persona, presets to switch to, and «✍️ Написать свою» — an aiogram FSM
collecting facts one per line over one or several messages (/done finishes, /cancel aborts).

FSM state lives in aiogram's MemoryStorage: a restart forgets a half-written persona (the
user starts it again); everything finished is in the database.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import texts
from bot.chat import ChatService
from bot.personas import MAX_FACT_CHARS, MAX_FACTS, MIN_FACT_CHARS, PersonaError, validate_facts
from bot.storage.models import User
from bot.storage.repository import Repository
from bot.telegram.addressing import query_chat_id
from bot.telegram.keyboards import CUSTOM_PERSONA, PersonaCallback, persona_keyboard


class PersonaForm(StatesGroup):
    facts = State()


async def persona_menu(chat: ChatService, repo: Repository, user: User) -> tuple[str, InlineKeyboardMarkup]:
    """The current persona's card and the keyboard to switch (also shown by /start)."""
    choices = await chat.persona_choices(repo, user)
    current = choices.current
    card = texts.persona_card(current.title, current.fact_texts) if current else texts.NO_PERSONA
    return f"{card}\n\n{texts.PERSONA_PICK}", persona_keyboard(choices)


async def show_persona(message: Message, chat: ChatService, repo: Repository, user: User) -> None:
    text, keyboard = await persona_menu(chat, repo, user)
    await message.answer(text, reply_markup=keyboard, parse_mode=None)


async def choose_persona(
    query: CallbackQuery, callback_data: PersonaCallback, bot: Bot, repo: Repository, user: User, state: FSMContext
) -> None:
    persona = await repo.get_persona(callback_data.persona_id)
    if persona is None or persona.owner_id not in (None, user.id):  # stale, or someone else's
        await query.answer(texts.PERSONA_NOT_FOUND, show_alert=True)
        return
    await repo.set_current_persona(user, persona)  # its own dialogue thread resumes with it
    await state.clear()
    await query.answer()
    text = texts.persona_chosen(persona.title, persona.fact_texts)
    await bot.send_message(query_chat_id(query), text, parse_mode=None)


async def start_custom(query: CallbackQuery, bot: Bot, state: FSMContext) -> None:
    await state.set_state(PersonaForm.facts)
    await state.set_data({"facts": []})
    await query.answer()
    limits = texts.CUSTOM_LIMITS.format(max_facts=MAX_FACTS, min_chars=MIN_FACT_CHARS, max_chars=MAX_FACT_CHARS)
    await bot.send_message(query_chat_id(query), f"{texts.PERSONA_WRITE_PROMPT}\n{limits}", parse_mode=None)


async def collect_facts(message: Message, state: FSMContext) -> None:
    facts: list[str] = (await state.get_data()).get("facts", [])
    try:
        facts = validate_facts(facts + (message.text or "").splitlines())
    except PersonaError as error:  # this message is rejected as a whole; earlier ones stay
        await message.answer(texts.CUSTOM_REJECTED.format(error=error, count=len(facts)), parse_mode=None)
        return
    await state.update_data(facts=facts)
    await message.answer(texts.CUSTOM_ACCEPTED.format(count=len(facts), max_facts=MAX_FACTS))


async def finish_custom(message: Message, repo: Repository, user: User, state: FSMContext) -> None:
    facts: list[str] = (await state.get_data()).get("facts", [])
    if not facts:
        await message.answer(texts.CUSTOM_NOTHING_YET)
        return
    persona = await repo.create_persona(user, texts.CUSTOM_PERSONA_TITLE, facts)
    await repo.set_current_persona(user, persona)
    await state.clear()
    await message.answer(texts.persona_chosen(persona.title, persona.fact_texts), parse_mode=None)


async def cancel_custom(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(texts.PERSONA_CANCELLED)


async def need_text(message: Message) -> None:
    await message.answer(texts.CUSTOM_NEED_TEXT)


async def nothing_to_finish(message: Message) -> None:
    await message.answer(texts.NOTHING_TO_FINISH)


def build_router() -> Router:
    router = Router(name="persona")
    router.message.register(show_persona, Command("persona"))
    router.callback_query.register(start_custom, PersonaCallback.filter(F.persona_id == CUSTOM_PERSONA))
    router.callback_query.register(choose_persona, PersonaCallback.filter())
    router.message.register(finish_custom, PersonaForm.facts, Command("done"))
    router.message.register(cancel_custom, PersonaForm.facts, Command("cancel"))
    router.message.register(collect_facts, PersonaForm.facts, F.text, ~F.text.startswith("/"))
    router.message.register(need_text, PersonaForm.facts, ~F.text)
    router.message.register(nothing_to_finish, Command("done", "cancel"))
    return router
