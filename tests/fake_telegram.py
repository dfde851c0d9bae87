"""A fake Telegram Bot API server on 127.0.0.1 for tests (aiohttp.web).

It speaks the real wire protocol aiogram uses (``POST /bot<token>/<method>`` with form or
multipart fields, JSON-encoded complex values, ``{"ok": ..., "result": ...}`` answers), keeps
an update queue served by long-polling ``getUpdates`` with offsets, and records every call so
tests can assert on what the bot actually sent. Tests play the users (``text_update``,
``callback_update``, ... then ``push`` them, or feed them to a dispatcher directly) and wait
for the bot with ``wait_for``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 777000
BOT_USERNAME = "persona_test_bot"
JSON_FIELDS = {"reply_markup", "commands", "scope", "allowed_updates", "reply_parameters", "link_preview_options"}


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """Uploaded files by field name: (file name, content)."""
    result: Any = None
    """What the server answered (for sendMessage: the message, updated by later edits)."""

    def document(self) -> tuple[str, bytes]:
        """The file a ``sendDocument`` call uploaded (``document`` is ``attach://<field>``)."""
        return self.files[self.params["document"].removeprefix("attach://")]


class FakeTelegram:
    """Start with ``await fake.start()``; ``fake.base_url`` goes to TELEGRAM_API_URL."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat_id, message_id) -> message
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ---- server ----------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await _read_params(request)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        result = await handler(params, files)
        if isinstance(result, web.Response):
            return result
        if method != "getUpdates":  # polling is noise; everything else is what the bot *did*
            await self._record(Call(method, params, files, result))
        return web.json_response({"ok": True, "result": result})

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # ---- Bot API methods -------------------------------------------------------------------
    async def _api_getMe(self, params: dict, files: dict) -> dict:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Persona", "username": BOT_USERNAME}

    async def _api_getUpdates(self, params: dict, files: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        async with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed ones go
            while not self._updates and (left := deadline - time.monotonic()) > 0:
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    break
            return list(self._updates[:100])

    async def _api_deleteWebhook(self, params: dict, files: dict) -> bool:
        return True

    async def _api_setWebhook(self, params: dict, files: dict) -> bool:
        return True

    async def _api_setMyCommands(self, params: dict, files: dict) -> bool:
        return True

    async def _api_sendChatAction(self, params: dict, files: dict) -> bool:
        return True

    async def _api_answerCallbackQuery(self, params: dict, files: dict) -> bool:
        return True

    async def _api_sendMessage(self, params: dict, files: dict) -> dict:
        return self._new_message(params, text=params["text"])

    async def _api_sendDocument(self, params: dict, files: dict) -> dict:
        key = params["document"].removeprefix("attach://")
        name = files[key][0] if key in files else key
        return self._new_message(params, document={"file_id": key, "file_unique_id": key, "file_name": name})

    async def _api_editMessageText(self, params: dict, files: dict) -> dict | web.Response:
        message = self._find(params)
        if message is None:
            return _bad_request("message to edit not found")
        if message.get("text") == params["text"] and message.get("reply_markup") == params.get("reply_markup"):
            return _bad_request("message is not modified")
        message["text"] = params["text"]
        message["reply_markup"] = params.get("reply_markup")
        return message

    async def _api_editMessageReplyMarkup(self, params: dict, files: dict) -> dict | web.Response:
        message = self._find(params)
        if message is None:
            return _bad_request("message to edit not found")
        message["reply_markup"] = params.get("reply_markup")
        return message

    def _find(self, params: dict) -> dict | None:
        return self.messages.get((int(params["chat_id"]), int(params["message_id"])))

    def _new_message(self, params: dict, **content: Any) -> dict:
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Persona", "username": BOT_USERNAME},
            **content,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    # ---- the users' side: build updates, then ``push`` them (or feed them to a dispatcher) ----
    async def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for the bot's next getUpdates."""
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def text_update(self, user_id: int, text: str, *, chat_id: int | None = None, reply_to: dict | None = None) -> dict:
        message = self._user_message(user_id, chat_id, text=text)
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        mention = f"@{BOT_USERNAME}"
        if mention in text:
            entities.append({"type": "mention", "offset": _utf16_len(text[: text.index(mention)]), "length": len(mention)})
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return self._update(message=message)

    def edited_update(self, user_id: int, text: str) -> dict:
        message = {**self._user_message(user_id, None, text=text), "edit_date": int(time.time())}
        return self._update(edited_message=message)

    def sticker_update(self, user_id: int, *, chat_id: int | None = None) -> dict:
        sticker = {"file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False}
        return self._update(message=self._user_message(user_id, chat_id, sticker=sticker))

    def callback_update(self, user_id: int, message: dict, data: str) -> dict:
        query = {"id": f"cq{next(self._update_ids)}", "from": _user(user_id), "chat_instance": "ci",
                 "message": message, "data": data}
        return self._update(callback_query=query)

    def _update(self, **content: Any) -> dict:
        return {"update_id": next(self._update_ids), **content}

    def _user_message(self, user_id: int, chat_id: int | None, **content: Any) -> dict:
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": _chat(chat_id if chat_id is not None else user_id), "from": _user(user_id), **content}

    # ---- what the bot did ------------------------------------------------------------------
    def sent(self, method: str = "sendMessage", *, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]

    def texts_to(self, chat_id: int) -> list[str]:
        return [c.params["text"] for c in self.sent("sendMessage", chat_id=chat_id)]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Wait until ``condition()`` is truthy (re-checked on every call the bot makes); return it."""
        async with self._changed:
            result = await asyncio.wait_for(self._changed.wait_for(condition), timeout)
        return result


def _user(user_id: int) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "ru"}


def _chat(chat_id: int) -> dict:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": "Группа"}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # Telegram entity offsets count UTF-16 code units


def _bad_request(description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}, status=400)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Form fields as Python values (JSON-decoded where aiogram encodes JSON) and uploaded files."""
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            files[key] = (value.filename, value.file.read())
        else:
            params[key] = json.loads(value) if key in JSON_FIELDS else value
    return params, files
