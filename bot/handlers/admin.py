"""/stats for the admins (ADMIN_IDS): users, messages, replies per day, mean latency, feedback."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot import texts
from bot.storage.repository import Repository

STATS_DAYS = 7


def format_stats(stats: dict, days: int) -> str:
    latency = stats["mean_latency_ms"]
    per_day = "\n".join(texts.STATS_DAY.format(day=day, replies=n) for day, n in stats["replies_per_day"].items())
    return texts.STATS.format(
        users=stats["users"],
        messages=stats["messages"],
        user_messages=stats["user_messages"],
        bot_replies=stats["bot_replies"],
        days=days,
        latency=texts.STATS_NO_LATENCY if latency is None else f"{latency:.0f} мс",
        up=stats["feedback"]["up"],
        down=stats["feedback"]["down"],
        regenerate=stats["feedback"]["regenerate"],
        per_day=per_day,
    )


async def stats(message: Message, repo: Repository, is_admin: bool) -> None:
    if not is_admin:
        await message.answer(texts.ADMIN_ONLY)
        return
    await message.answer(format_stats(await repo.stats(days=STATS_DAYS), STATS_DAYS), parse_mode=None)


def build_router() -> Router:
    router = Router(name="admin")
    router.message.register(stats, Command("stats"))
    return router
