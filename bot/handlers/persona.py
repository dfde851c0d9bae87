"""/persona: the current persona, presets to switch to (buttons, or ``/persona N`` as in the console), and
«✍️ Написать свою» or ``/persona new``: an aiogram FSM collecting facts one per line over one or several
messages. The form's rules are ``bot.flow``'s, shared with the console; this module keeps its state and sends.

FSM state lives in Redis when ``REDIS_URL`` is set (a half-written persona survives a restart and any worker
goes on with it), else in aiogram's MemoryStorage (a restart forgets it; the user starts again); everything
finished is in the database.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import texts
from bot.chat import ChatService
from bot.flow import ChoiceError, add_facts, chosen_persona, command_of, form_command, form_opening
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


async def persona_command(
    message: Message, command: CommandObject, chat: ChatService, repo: Repository, user: User, state: FSMContext
) -> None:
    argument = (command.args or "").strip()
    if not argument:
        text, keyboard = await persona_menu(chat, repo, user)
        await message.answer(text, reply_markup=keyboard, parse_mode=None)
    elif argument.lower() == "new":
        await open_form(state)
        await message.answer(form_opening(), parse_mode=None)
    else:
        try:
            persona = chosen_persona(await chat.persona_choices(repo, user), argument)
        except ChoiceError as error:
            await message.answer(str(error), parse_mode=None)
            return
        await repo.set_current_persona(user, persona)
        await message.answer(texts.persona_chosen(persona.title, persona.fact_texts), parse_mode=None)


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


async def open_form(state: FSMContext) -> None:
    await state.set_state(PersonaForm.facts)
    await state.set_data({"facts": []})


async def start_custom(query: CallbackQuery, bot: Bot, state: FSMContext) -> None:
    await open_form(state)
    await query.answer()
    await bot.send_message(query_chat_id(query), form_opening(), parse_mode=None)


async def collect_facts(message: Message, state: FSMContext) -> None:
    step = add_facts((await state.get_data()).get("facts", []), message.text or "")
    await state.update_data(facts=list(step.facts))
    await message.answer(step.text, parse_mode=None)


async def command_in_form(message: Message, repo: Repository, user: User, state: FSMContext) -> None:
    step = await form_command(repo, user, (await state.get_data()).get("facts", []), command_of(message.text or ""))
    if step.closed:
        await state.clear()
    await message.answer(step.text, parse_mode=None)


async def need_text(message: Message) -> None:
    await message.answer(texts.CUSTOM_NEED_TEXT)


async def nothing_to_finish(message: Message) -> None:
    await message.answer(texts.NOTHING_TO_FINISH)


def build_router() -> Router:
    """First of the routers: inside the form every message is the form's (commands too, see ``bot.flow``)."""
    router = Router(name="persona")
    router.message.register(command_in_form, PersonaForm.facts, F.text.startswith("/"))
    router.message.register(collect_facts, PersonaForm.facts, F.text)
    router.message.register(need_text, PersonaForm.facts)
    router.message.register(persona_command, Command("persona"))
    router.callback_query.register(start_custom, PersonaCallback.filter(F.persona_id == CUSTOM_PERSONA))
    router.callback_query.register(choose_persona, PersonaCallback.filter())
    router.message.register(nothing_to_finish, Command("done", "cancel"))
    return router
