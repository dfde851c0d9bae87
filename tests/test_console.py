"""The console chat, driven as a real subprocess with piped stdin against a tiny model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot import texts
from bot.personas import load_presets
from tests.conftest import PROJECT_ROOT


def chat_env(model_dir: Path, db_path: Path, log_level: str = "WARNING") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(MODEL_PATH=str(model_dir), DATABASE_PATH=str(db_path), TORCH_THREADS="1", DECODING_STRATEGY="greedy",
               MAX_NEW_TOKENS="8", LOG_LEVEL=log_level)
    return env


def run_chat(model_dir: Path, db_path: Path, lines: list[str], *args: str,
             log_level: str = "WARNING") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input="".join(line + "\n" for line in lines),
        capture_output=True, text=True, env=chat_env(model_dir, db_path, log_level), cwd=PROJECT_ROOT, timeout=180,
    )


def rows(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql).fetchall()


def test_piped_chat_answers_and_stores(tiny_model_dir, tmp_path):
    db = tmp_path / "bot.sqlite3"
    result = run_chat(tiny_model_dir, db, ["Привет!", "Как дела?", "/quit", "never read"], "chat", "--user", "anna")
    assert result.returncode == 0, result.stderr
    replies = [line for line in result.stdout.splitlines() if line.startswith("Бот: ")]
    assert len(replies) == 2 and all(len(r) > len("Бот: ") for r in replies)
    assert "> " not in result.stdout  # no prompt noise when stdin is not a terminal
    messages = rows(db, "SELECT role, text, status FROM messages ORDER BY id")
    assert [(m[0], m[2]) for m in messages] == [("user", "answered"), ("bot", "sent")] * 2
    assert [m[1] for m in messages[::2]] == ["Привет!", "Как дела?"]


def test_auto_mode_without_token_says_why_and_chats(tiny_model_dir, tmp_path):
    result = run_chat(tiny_model_dir, tmp_path / "bot.sqlite3", ["Привет!"])
    assert result.returncode == 0, result.stderr
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    assert sum(line.startswith("Бот: ") for line in result.stdout.splitlines()) == 1


def test_persona_commands_and_reset(tiny_model_dir, tmp_path):
    db = tmp_path / "bot.sqlite3"
    script = [
        "/persona",
        "/persona 2",
        "/persona new",
        "Я работаю врачом.",
        "У меня есть кот.",
        "/done",
        "Кем ты работаешь?",
        "/reset",
        "Привет",
        "/unknown",
        "/help",
    ]
    result = run_chat(tiny_model_dir, db, script, "chat")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Готовые персоны:" in out and "• Я работаю врачом." in out
    assert "Не знаю команду /unknown" in out and "/persona new" in out
    facts = rows(db, "SELECT f.text FROM persona_facts f JOIN personas p ON p.id = f.persona_id "
                     "WHERE p.preset_key IS NULL ORDER BY f.position")
    assert facts == [("Я работаю врачом.",), ("У меня есть кот.",)]
    # /reset opened a second dialogue for the same (custom) persona.
    dialogues = rows(db, "SELECT persona_id, closed_at IS NOT NULL FROM dialogues ORDER BY id")
    assert len(dialogues) == 2 and dialogues[0][0] == dialogues[1][0] and dialogues[0][1] == 1


def test_own_personas_continue_the_numbering_and_resume_their_dialogue(tiny_model_dir, tmp_path):
    db = tmp_path / "bot.sqlite3"
    own = len(load_presets()) + 1  # presets keep 1..N, the user's own persona comes next
    script = ["/persona new", "Я работаю врачом.", "/done", "Привет, доктор", "/persona 1", "Привет, первая",
              "/persona", f"/persona {own}", "Кем ты работаешь?"]
    result = run_chat(tiny_model_dir, db, script, "chat")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("Ваши персоны:")[1].splitlines()
    assert listing[1] == f"  {own}. 👤 Я работаю врачом."
    threads = rows(db, "SELECT p.preset_key IS NULL, d.id, m.text FROM messages m "
                       "JOIN dialogues d ON d.id = m.dialogue_id JOIN personas p ON p.id = d.persona_id "
                       "WHERE m.role = 'user' ORDER BY m.id")
    assert [t[2] for t in threads if t[0]] == ["Привет, доктор", "Кем ты работаешь?"]
    assert len({t[1] for t in threads if t[0]}) == 1  # one dialogue thread, resumed


def test_the_persona_form_never_traps_anyone(tiny_model_dir, tmp_path):
    """The issue's scenario (12 facts, /done, «Привет!», /help, /cancel), then commands and bad facts inside the
    form, and persona numbers that name nothing: the same answers as in Telegram (``bot.flow``)."""
    db = tmp_path / "bot.sqlite3"
    script = ["/persona new", *(f"Факт номер {n}." for n in range(1, 13)), "/done", "Привет!", "/help", "/cancel",
              "/persona new", "Я врач.", "/help", "/reset", "Я " + "очень " * 40 + "люблю кошек.", "/cancel",
              "/persona 999", "/persona 0", "/persona abc"]
    result = run_chat(tiny_model_dir, db, script, "chat")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    accepted = [line for line in out if line.startswith("Принято.")]
    assert len(accepted) == 11 and accepted[9] == texts.CUSTOM_ACCEPTED_FULL.format(count=10, max_facts=10)
    refused = [line for line in out if line.startswith("Фактов уже 10 — больше нельзя.")]
    assert len(refused) == 2
    facts = rows(db, "SELECT f.text FROM persona_facts f JOIN personas p ON p.id = f.persona_id "
                     "WHERE p.preset_key IS NULL ORDER BY f.position")
    assert [f[0] for f in facts] == [f"Факт номер {n}." for n in range(1, 11)]
    assert rows(db, "SELECT text FROM messages WHERE role = 'user'") == [("Привет!",)]  # answered as a chat message
    assert sum(line.startswith("Бот: ") for line in out) == 1
    assert "Команды:" in out and texts.NOTHING_TO_FINISH in out
    assert "Вы пишете свою персону: фактов 1 из 10." in out
    assert "Вы пишете свою персону: фактов 1 из 10. " + texts.FORM_FINISH_FIRST.format(command="/reset") in out
    assert any(line.startswith("Факт 2 слишком длинный") for line in out)
    assert texts.PERSONA_CANCELLED in out
    presets = len(load_presets()) + 1  # and the persona written above
    assert texts.PERSONA_NO_NUMBER.format(number=999, count=presets) in out
    assert texts.PERSONA_NO_NUMBER.format(number=0, count=presets) in out
    assert any(line.startswith("«abc» — не номер персоны.") for line in out)


def test_export_and_forget_in_the_console(tiny_model_dir, tmp_path):
    """The same export and deletion as Telegram's (``ChatService.export`` / ``forget``): a JSON file beside the
    database; /forget asks first, /forget yes erases this user and nobody else."""
    db = tmp_path / "bot.sqlite3"
    run_chat(tiny_model_dir, db, ["Меня зовут Олег."], "chat", "--user", "other")
    result = run_chat(tiny_model_dir, db, ["Привет! Я живу в Омске.", "/export", "/forget", "/forget yes"], "chat",
                      "--user", "anna")
    assert result.returncode == 0, result.stderr
    exported = tmp_path / "persona-bot-export-anna.json"
    assert f"Ваши данные записаны в файл {exported}" in result.stdout
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert "Я живу в Омске." in json.dumps(data, ensure_ascii=False) and "Олег" not in json.dumps(data, ensure_ascii=False)
    assert texts.CONSOLE_FORGET_CONFIRM in result.stdout and texts.FORGET_DONE in result.stdout
    users = rows(db, "SELECT external_id FROM users ORDER BY external_id")
    assert users == [("other",)]  # anna's rows are gone, the other user's stay
    assert rows(db, "SELECT count(*) FROM user_facts") == [(1,)]


def test_the_persona_form_on_a_terminal_shows_where_the_user_is(tiny_model_dir, tmp_path):
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bot", "chat"], stdin=slave, stdout=slave,
                               stderr=subprocess.DEVNULL, env=chat_env(tiny_model_dir, tmp_path / "bot.sqlite3"),
                               cwd=PROJECT_ROOT)
    os.close(slave)
    script = ["/persona new", *(f"Факт номер {n}." for n in range(1, 12)), "/help", "/cancel", "/quit"]
    os.write(master, "".join(line + "\n" for line in script).encode())
    output = read_terminal(master).decode("utf-8")
    assert process.wait(timeout=180) == 0
    assert "+ " in output  # the form's own prompt
    assert "Фактов уже 10 — больше нельзя." in output and "Вы пишете свою персону: фактов 10 из 10." in output
    assert texts.PERSONA_CANCELLED in output


def test_pending_messages_of_this_user_are_answered_at_start(tiny_model_dir, tmp_path):
    db = tmp_path / "bot.sqlite3"
    run_chat(tiny_model_dir, db, ["Привет!"], "chat", "--user", "ivan")
    run_chat(tiny_model_dir, db, ["Привет!"], "chat", "--user", "anna")
    with sqlite3.connect(db) as connection:  # as a Ctrl+C during generation leaves them
        connection.execute("INSERT INTO messages (dialogue_id, role, text, created_at, status) "
                           "SELECT dialogue_id, 'user', 'Ты ещё здесь?', datetime('now'), 'pending' FROM messages "
                           "WHERE id IN (SELECT min(id) FROM messages GROUP BY dialogue_id)")
    result = run_chat(tiny_model_dir, db, [], "chat", "--user", "ivan")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "Ответ на сообщение, оставшееся без ответа в прошлый раз: «Ты ещё здесь?»"
    assert lines[2].startswith("Бот: ")
    statuses = rows(db, "SELECT u.external_id, m.status FROM messages m JOIN dialogues d ON d.id = m.dialogue_id "
                        "JOIN users u ON u.id = d.user_id WHERE m.text = 'Ты ещё здесь?' ORDER BY u.external_id")
    assert statuses == [("anna", "pending"), ("ivan", "answered")]  # anna's waits for anna


def test_bad_input_gets_a_message_and_nothing_is_stored(tiny_model_dir, tmp_path):
    db = tmp_path / "bot.sqlite3"
    result = run_chat(tiny_model_dir, db, ["   ", "x" * 5000, "bad\x07bell", "/persona new", "/done", "/cancel"], "chat")
    assert result.returncode == 0, result.stderr
    assert "слишком длинное" in result.stdout and "служебные символы" in result.stdout
    assert texts.CUSTOM_NOTHING_YET in result.stdout  # /done with no fact: the form says so, as in Telegram
    assert rows(db, "SELECT count(*) FROM messages") == [(0,)]


def test_conversation_survives_a_restart(tiny_model_dir, tmp_path):
    db = tmp_path / "bot.sqlite3"
    run_chat(tiny_model_dir, db, ["Привет!"], "chat", "--user", "ivan")
    run_chat(tiny_model_dir, db, ["Как дела?"], "chat", "--user", "ivan")
    assert rows(db, "SELECT count(DISTINCT dialogue_id), count(*) FROM messages") == [(1, 4)]


def test_missing_model_is_a_clear_error(tmp_path):
    result = run_chat(tmp_path / "no-such-model", tmp_path / "bot.sqlite3", ["Привет!"], "chat")
    assert result.returncode == 1
    assert "no-such-model" in result.stderr and "Traceback" not in result.stderr


def test_a_hub_model_offline_is_a_clear_error_at_once(tmp_path):
    """MODEL_PATH a hub id with no network: a clear error within seconds (the run's timeout), no retry loop."""
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], input="Привет!\n", capture_output=True, text=True,
                            env={**chat_env(tmp_path / "x", tmp_path / "bot.sqlite3"), "MODEL_PATH": "nobody/no-model"},
                            cwd=PROJECT_ROOT, timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "'nobody/no-model'" in result.stderr and "hub cannot be reached" in result.stderr


@pytest.mark.parametrize("value", ["abc", "-1"])
def test_bad_setting_is_a_clear_error(tiny_model_dir, tmp_path, value, monkeypatch):
    monkeypatch.setenv("BATCH_MAX_SIZE", value)
    result = run_chat(tiny_model_dir, tmp_path / "bot.sqlite3", [], "chat")
    assert result.returncode == 2 and "BATCH_MAX_SIZE" in result.stderr


def test_library_logs_go_to_a_file_not_into_the_chat(tiny_model_dir, tmp_path):
    result = run_chat(tiny_model_dir, tmp_path / "bot.sqlite3", ["Привет!"], "chat", log_level="INFO")
    assert result.returncode == 0, result.stderr
    log_file = tmp_path / "console.log"
    assert f"Log: {log_file}" in result.stderr
    assert "alembic" not in (result.stderr + result.stdout).lower()  # Alembic's INFO lines are not in the chat
    assert "alembic.runtime.migration" in log_file.read_text(encoding="utf-8")


def read_terminal(master: int) -> bytes:
    """All a process wrote to its terminal, until it closed; the master end is closed after."""
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return output


def test_a_terminal_sees_the_bot_typing(tiny_model_dir, tmp_path):
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bot", "chat"], stdin=subprocess.PIPE, stdout=slave,
                               stderr=subprocess.DEVNULL, env=chat_env(tiny_model_dir, tmp_path / "bot.sqlite3"),
                               cwd=PROJECT_ROOT)
    os.close(slave)
    process.communicate(input=b"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82!\n", timeout=180)  # «Привет!»
    output = read_terminal(master)
    text = output.decode("utf-8")
    typing = text.index("Бот печатает…")
    assert text.index("\r\x1b[K", typing) < text.index("Бот: ", typing)  # erased before the reply is printed


def test_lines_typed_while_the_bot_answers_are_one_turn_on_a_terminal(tiny_model_dir, tmp_path):
    import pty

    master, slave = pty.openpty()
    db = tmp_path / "bot.sqlite3"
    process = subprocess.Popen([sys.executable, "-m", "bot", "chat"], stdin=slave, stdout=slave,
                               stderr=subprocess.DEVNULL, env=chat_env(tiny_model_dir, db), cwd=PROJECT_ROOT)
    os.close(slave)
    # typed in one go: the second and third lines wait on the terminal while the first is read
    os.write(master, "Привет!\nКак дела?\nЧем занимаешься?\n/quit\n".encode())
    output = read_terminal(master)
    assert process.wait(timeout=180) == 0
    assert output.decode("utf-8").count("Бот: ") == 1
    assert rows(db, "SELECT text, status FROM messages WHERE role = 'user'") == [
        ("Привет!\nКак дела?\nЧем занимаешься?", "answered")
    ]
