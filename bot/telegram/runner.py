"""Running the dispatcher: long polling (default) or a webhook, both stopping gracefully.

On SIGTERM/SIGINT no new updates are taken; updates in flight get ``shutdown_grace_s`` to
finish (a reply being generated is sent), then the rest are cancelled. A cancelled reply's
user message stays "pending" in the database and is answered at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.config import Settings
from bot.telegram.middlewares import InFlight

log = logging.getLogger(__name__)
MAX_WEBHOOK_CONNECTIONS = 100  # Telegram's own upper bound


async def run_polling(dp: Dispatcher, bot: Bot, settings: Settings) -> None:
    dp.shutdown.register(_finish_in_flight)
    await bot.delete_webhook(drop_pending_updates=False)  # polling and a webhook exclude each other
    await dp.start_polling(
        bot,
        handle_signals=True,
        close_bot_session=True,
        tasks_concurrency_limit=settings.max_concurrent_updates,
    )


async def run_webhook(dp: Dispatcher, bot: Bot, settings: Settings) -> None:
    """Serve WEBHOOK_URL on WEBHOOK_HOST:WEBHOOK_PORT until a signal.

    Updates are handled inside the request (not in the background), so Telegram's
    ``max_connections`` bounds the concurrent load the way ``tasks_concurrency_limit`` does
    for polling, and Telegram re-sends an update whose handling failed.
    """
    assert settings.webhook_url, "load_settings requires WEBHOOK_URL with BOT_MODE=webhook"
    dp.shutdown.register(_finish_in_flight)
    app = web.Application()
    path = urlsplit(settings.webhook_url).path or "/"  # a proxy may forward the public path as is
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    SimpleRequestHandler(dp, bot, secret_token=secret, handle_in_background=False).register(
        app, path=path
    )
    setup_application(app, dp, bot=bot)  # startup/shutdown hooks run with the web app
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=secret,
            max_connections=min(settings.max_concurrent_updates, MAX_WEBHOOK_CONNECTIONS),
        )
        log.info("webhook served on %s:%s", settings.webhook_host, settings.webhook_port)
        await _until_signal()
    finally:
        await runner.cleanup()  # stops accepting, then the shutdown hooks (in-flight updates finish)
        await bot.session.close()


async def _finish_in_flight(in_flight: InFlight, settings: Settings) -> None:
    """Shutdown hook: let running updates finish within the grace period, then cancel them."""
    if in_flight.count:
        log.info("waiting up to %ss for %d update(s) in flight", settings.shutdown_grace_s, in_flight.count)
    if not await in_flight.wait_idle(settings.shutdown_grace_s):
        log.warning("%d update(s) cancelled at shutdown; their messages are answered after restart", in_flight.count)
        await in_flight.cancel_all()


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
