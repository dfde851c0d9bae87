"""The Telegram bot assembled: ``run_bot(settings)`` is what ``python -m bot`` runs.

Start: migrate the database, sync presets, load the model (``bot.runtime``), build the Bot
(base URL from TELEGRAM_API_URL, so a self-hosted Bot API server works) and the Dispatcher,
set the command menu, answer messages a previous stop left pending, then poll (or serve the
webhook). Stop (SIGTERM/SIGINT): no new updates; in-flight ones get ``shutdown_grace_s`` to
finish, then are cancelled — their user messages stay "pending" and are answered at the
next start (with several workers, by a live worker: ``sweep_pending``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot import texts
from bot.chat import ChatService
from bot.config import Settings
from bot.handlers import build_routers
from bot.runtime import Runtime, open_runtime
from bot.storage.database import Database
from bot.storage.repository import Repository
from bot.telegram import middlewares
from bot.telegram.flood import RedisBuckets
from bot.telegram.ordering import RedisLines
from bot.telegram.replies import deliver_pending
from bot.telegram.runner import run_polling, run_webhook

log = logging.getLogger(__name__)


async def run_bot(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        await serve(runtime)


async def serve(runtime: Runtime) -> None:
    """Run the bot on an open runtime until SIGTERM/SIGINT."""
    settings = runtime.settings
    bot = build_bot(settings)
    dp = build_dispatcher(settings, runtime.database, runtime.chat)
    try:
        if settings.bot_mode == "webhook":
            await run_webhook(dp, bot, settings)
        else:
            await run_polling(dp, bot, settings)
    finally:
        await dp.storage.close()


def build_bot(settings: Settings) -> Bot:
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    # No parse mode anywhere: user and model text is sent as is and can never break a message.
    return Bot(settings.telegram_token.get_secret_value(), session=session, default=DefaultBotProperties(parse_mode=None))


FSM_TTL = timedelta(days=7)
"""How long Redis keeps a conversation state (a half-written persona) nobody touches."""


def fsm_storage(settings: Settings) -> BaseStorage:
    """Where the conversation states live: Redis if ``REDIS_URL`` is set (they survive a restart and are shared
    by every worker; the workers' shared state uses the same connection pool), else this process's memory."""
    if settings.redis_url is None:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage

    # Keys carry the bot's id: two bots on one Redis never read each other's states.
    return RedisStorage.from_url(settings.redis_url.get_secret_value(), state_ttl=FSM_TTL, data_ttl=FSM_TTL,
                                 key_builder=DefaultKeyBuilder(with_bot_id=True, with_destiny=True))


def build_dispatcher(settings: Settings, database: Database, chat: ChatService) -> Dispatcher:
    """The dispatcher with every middleware and router; handlers get ``chat`` and ``settings``.

    ``dp["in_flight"]`` counts updates being handled (for a graceful stop).
    """
    storage = fsm_storage(settings)
    redis = getattr(storage, "redis", None)
    lines = RedisLines(redis, redis_prefix(settings)) if redis is not None else None
    buckets = (RedisBuckets(redis, settings.flood_burst, settings.flood_per_minute / 60, redis_prefix(settings))
               if redis is not None else None)
    dp = Dispatcher(storage=storage, chat=chat, settings=settings, database=database, lines=lines)
    dp["in_flight"] = middlewares.install(dp, settings, database, chat, lines=lines, buckets=buckets)
    dp.include_routers(*build_routers())
    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp


def redis_prefix(settings: Settings) -> str:
    """The Redis keys of this bot's shared state: its numeric id is the token's part before «:» (not the
    secret part), so two bots on one Redis never share a line or a bucket."""
    return f"persona-bot:{settings.telegram_token.get_secret_value().split(':', 1)[0] if settings.telegram_token else 0}"


async def on_startup(dispatcher: Dispatcher, bot: Bot, settings: Settings, database: Database, chat: ChatService,
                     lines: RedisLines | None) -> None:
    await set_commands(bot, settings)
    await answer_pending(bot, database, chat, lines)
    if lines is not None:  # several workers: one may stop mid-reply while the others go on
        dispatcher["sweeper"] = asyncio.create_task(sweep_pending(bot, database, chat, lines))


async def on_shutdown(dispatcher: Dispatcher) -> None:
    if (sweeper := dispatcher.workflow_data.pop("sweeper", None)) is not None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper


SWEEP_S = 20.0
"""How often a worker looks for messages that a stopped worker left unanswered (with several workers)."""


async def sweep_pending(bot: Bot, database: Database, chat: ChatService, lines: RedisLines) -> None:
    """Every ``SWEEP_S``: answer messages still pending, each user's in the user's line. A worker killed in the
    middle of a reply leaves its message pending and its ticket unrefreshed; once the line skips that ticket
    (``LINE_TTL_S``), a live worker answers the message, as a restarted single bot would. A message a live worker is
    answering is ahead in the line and no longer pending when the sweep's turn comes; the next message of that user
    answers it first anyway (``handlers.chat``)."""
    while True:
        await asyncio.sleep(SWEEP_S)
        try:
            await answer_pending(bot, database, chat, lines)
        except Exception:  # a database or Redis hiccup: the next sweep tries again
            log.exception("answering pending messages failed")


async def set_commands(bot: Bot, settings: Settings) -> None:
    commands = [BotCommand(command=name, description=text) for name, text in texts.COMMANDS.items()]
    await bot.set_my_commands(commands, scope=BotCommandScopeDefault())
    admin = commands + [BotCommand(command=name, description=text) for name, text in texts.ADMIN_COMMANDS.items()]
    for admin_id in settings.admin_ids:
        try:
            await bot.set_my_commands(admin, scope=BotCommandScopeChat(chat_id=admin_id))
        except TelegramAPIError as exc:  # the admin has not opened a chat with the bot yet
            log.warning("admin commands not set for %s: %s", admin_id, exc.message)


async def answer_pending(bot: Bot, database: Database, chat: ChatService, lines: RedisLines | None = None) -> None:
    """Answer Telegram users' messages that a stop left without a reply (before polling starts,
    so they come before anything the same user sends next); a message that still cannot be
    answered gets a notice quoting it instead — never silence.

    With shared ``lines`` (several workers) a message still pending may be one another worker is answering
    now: each user's are answered in the user's line, after what is ahead in it, and only if still pending."""
    async with database.session() as session:
        repo = Repository(session)
        if lines is None:
            await deliver_pending(bot, repo, await chat.answer_pending(repo, platform="telegram"))
            return
        users = {m.dialogue.user.id: m.dialogue.user for m in await repo.pending_messages(platform="telegram")}
        await repo.release()
        for user in users.values():
            async with lines.ticket(int(user.external_id)) as ticket:
                await lines.wait_turn(int(user.external_id), ticket)
                await deliver_pending(bot, repo, await chat.answer_pending(repo, platform="telegram", user=user))
                await repo.release()
