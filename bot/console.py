"""`python -m bot chat`: the same storage, personas and generator as the Telegram bot, in a terminal.

Lines are read from stdin, so it also works in scripts: with piped input there is no prompt
and every reply is one line starting with «Бот:», one per line. On a terminal, lines a person
typed while the bot was answering are joined into one turn with one reply, as in Telegram.
"""

from __future__ import annotations

import asyncio
import getpass
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from bot import texts
from bot.chat import InvalidMessage, ReplyFailed
from bot.flow import ChoiceError, add_facts, chosen_persona, command_of, form_command, form_opening, is_form_command
from bot.runtime import Runtime
from bot.storage.repository import Repository

CONSOLE_CHAT_ID = 0


class ConsoleChat:
    def __init__(self, runtime: Runtime, *, user_name: str | None = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout):
        self.runtime = runtime
        self.user_name = user_name or getpass.getuser()
        self.stdin, self.stdout = stdin, stdout
        self.interactive = stdin.isatty()
        self.collecting: tuple[str, ...] | None = None  # the persona form's facts, while it is open (`/persona new`)
        self._next_line: str | None = None  # a command read ahead while joining typed lines
        self.export_dir = Path(runtime.settings.database_path).parent  # /export writes its file beside the database

    def say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    async def run(self) -> None:
        self.say(texts.CONSOLE_WELCOME)
        await self.answer_pending()
        while (line := await self._read_line()) is not None:
            if not await self.handle(line.rstrip("\n")):
                break
        self.say(texts.CONSOLE_BYE)

    async def answer_pending(self) -> None:
        """This user's messages that a stop (e.g. Ctrl+C during a reply) left unanswered come first."""
        async with self.runtime.database.session() as session:
            repo = Repository(session)
            user = await self.runtime.chat.ensure_user(repo, "console", self.user_name, self.user_name)
            for outcome in await self.runtime.chat.answer_pending(repo, "console", user=user):
                if outcome.reply is None:
                    self.say(f"[!] {outcome.notice}")
                    continue
                self.say(texts.CONSOLE_PENDING_ANSWER.format(quote=texts.shorten(outcome.user_message.text)))
                self.say(f"Бот: {outcome.reply.text}")

    async def _read_line(self) -> str | None:
        if self._next_line is not None:
            line, self._next_line = self._next_line, None
            return line
        if self.interactive:
            print("> " if self.collecting is None else "+ ", end="", file=self.stdout, flush=True)
        line = await asyncio.to_thread(self.stdin.readline)  # keeps the event loop (and generator) free
        return line or None

    async def handle(self, line: str) -> bool:
        """Handle one line; False means quit."""
        command, _, argument = line.strip().partition(" ")
        if command == "/quit":
            return False
        async with self.runtime.database.session() as session:
            repo = Repository(session)
            user = await self.runtime.chat.ensure_user(repo, "console", self.user_name, self.user_name)
            if self.collecting is not None:
                await self._form(repo, user, line)
            elif command == "/help":
                self.say(texts.CONSOLE_HELP)
            elif command == "/reset":
                self.say(await self.runtime.chat.reset(repo, user, CONSOLE_CHAT_ID))
            elif command == "/memory":
                self.say(await self.runtime.chat.memory(repo, user, argument))
            elif command == "/export":
                path = self.export_dir / f"persona-bot-export-{self.user_name}.json"
                path.write_bytes(await self.runtime.chat.export(repo, user))
                self.say(texts.CONSOLE_EXPORTED.format(path=path))
            elif command == "/forget":
                if argument.strip().lower() not in ("yes", "да"):
                    self.say(texts.CONSOLE_FORGET_CONFIRM)
                else:
                    self.say(await self.runtime.chat.forget(repo, user))
                    self.collecting = None
            elif command == "/persona":
                await self._persona(repo, user, argument.strip())
            elif command in ("/done", "/cancel"):
                self.say(texts.NOTHING_TO_FINISH)
            elif command.startswith("/") and command not in ("/", "//"):
                self.say(texts.UNKNOWN_COMMAND.format(command=command))
            elif line.strip():
                await self._chat(repo, user, line)
        return True

    def _typed_meanwhile(self) -> list[str]:
        """Chat lines already waiting on the terminal (typed while the bot was answering), to be answered
        with this one as one turn; a command stops the joining and is handled next, on its own."""
        lines: list[str] = []
        while self.interactive and self._next_line is None and select.select([self.stdin], [], [], 0)[0]:
            line = self.stdin.readline()
            if not line or line.strip().startswith("/"):
                self._next_line = line or None
                break
            lines.append(line.rstrip("\n"))
        return lines

    async def _chat(self, repo: Repository, user, text: str) -> None:
        turn = [text, *self._typed_meanwhile()]
        try:
            with self._typing():
                reply = await self.runtime.chat.reply(repo, user, CONSOLE_CHAT_ID, turn)
        except (InvalidMessage, ReplyFailed) as exc:
            self.say(f"[!] {exc}")
        else:
            self.say(f"Бот: {reply.text}")

    @contextmanager
    def _typing(self) -> Iterator[None]:
        """«Бот печатает…» while a reply is generated, erased when it is there (a terminal only: piped
        output stays one line per reply)."""
        shown = self.stdout.isatty()
        if shown:
            print(texts.CONSOLE_TYPING, end="", file=self.stdout, flush=True)
        try:
            yield
        finally:
            if shown:
                print("\r\033[K", end="", file=self.stdout, flush=True)

    async def _persona(self, repo: Repository, user, argument: str) -> None:
        choices = await self.runtime.chat.persona_choices(repo, user)
        if not argument:
            current = choices.current
            self.say(texts.persona_card(current.title, current.fact_texts) if current else texts.NO_PERSONA)
            self.say(texts.CONSOLE_PRESETS_HEADER)
            for number, (_, label) in enumerate(choices.labelled(), 1):
                if number == len(choices.presets) + 1:
                    self.say(texts.CONSOLE_OWN_HEADER)
                self.say(f"  {number}. {label}")
            self.say(texts.CONSOLE_PERSONA_USAGE)
        elif argument.lower() == "new":
            self.collecting = ()
            self.say(form_opening())
        else:
            try:
                persona = chosen_persona(choices, argument)
            except ChoiceError as error:
                self.say(str(error))
                return
            await repo.set_current_persona(user, persona)  # resumes its own dialogue
            self.say(texts.persona_chosen(persona.title, persona.fact_texts))

    async def _form(self, repo: Repository, user, line: str) -> None:
        """A line while the persona form is open: facts, or a command the form answers (``bot.flow``)."""
        if is_form_command(line):
            step = await form_command(repo, user, self.collecting, command_of(line))
        else:
            step = add_facts(self.collecting, line)
        self.collecting = None if step.closed else step.facts
        self.say(step.text)
