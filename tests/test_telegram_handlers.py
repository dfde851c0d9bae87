"""Handlers through the real Dispatcher (``feed_raw_update``), a real Bot talking HTTP to the fake
Bot API server, a real SQLite database and a real tiny model."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import torch
from sqlalchemy import func, select

from bot import texts
from bot.chat import MAX_OWN_PERSONAS_LISTED, REPLY_NOT_STORED, ChatService
from bot.personas import load_presets
from bot.storage.models import Feedback, Message, User
from bot.telegram.app import answer_pending
from tests.fake_telegram import BOT_USERNAME
from tests.telegram_harness import Harness, telegram_harness

torch.set_num_threads(1)
ALICE, BOB, GROUP = 101, 202, -5005


@pytest.fixture
async def tg(tmp_path: Path, tiny_model_dir: Path):
    async with telegram_harness(tmp_path, tiny_model_dir, admin_ids=frozenset({ALICE})) as harness:
        yield harness


async def chat_once(tg: Harness, user_id: int, text: str = "Привет! Как дела?") -> dict:
    await tg.say(user_id, text)
    return tg.last_message(user_id)


async def test_start_greets_and_offers_presets(tg: Harness) -> None:
    await tg.say(ALICE, "/start")
    message = tg.last_message(ALICE)
    assert message["text"].startswith("Привет, User101!")
    buttons = tg.buttons(message)
    assert len(buttons) >= 11 and texts.PERSONA_CUSTOM_BUTTON in buttons
    assert sum(label.startswith("✅") for label in buttons) == 1  # the default persona is marked


async def test_reply_is_plain_text_with_feedback_buttons_and_stored(tg: Harness) -> None:
    message = await chat_once(tg, ALICE, "<b>жирный</b> *звёзды* [ссылка](http://x)")
    call = tg.fake.sent("sendMessage", chat_id=ALICE)[-1]
    assert "parse_mode" not in call.params  # never HTML/Markdown: content can not break sending
    assert tg.fake.sent("sendChatAction", chat_id=ALICE)[0].params["action"] == "typing"
    buttons = tg.buttons(message)
    assert list(buttons) == ["👍", "👎", "🔄"]
    reply_id = int(buttons["👍"].split(":")[-1])
    async with tg.repo() as repo:
        reply = await repo.find_reply(reply_id)
        assert reply.text == message["text"] and reply.telegram_message_id == message["message_id"]
        assert reply.reply_to.text == "<b>жирный</b> *звёзды* [ссылка](http://x)"
        assert reply.reply_to.status == "answered"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("   ", texts.EMPTY_MESSAGE), ("я" * 5000, texts.TOO_LONG_MESSAGE.format(limit=4096)),
     ("при\x07вет", texts.CONTROL_CHARACTERS)],
)
async def test_bad_text_gets_a_clear_message_and_nothing_is_stored(tg: Harness, text: str, expected: str) -> None:
    await tg.say(ALICE, text)
    assert tg.last_text(ALICE) == expected
    async with tg.repo() as repo:
        assert await repo.session.scalar(select(func.count()).select_from(Message)) == 0


async def test_feedback_is_stored_and_forged_or_stale_buttons_change_nothing(tg: Harness) -> None:
    message = await chat_once(tg, ALICE)
    up = tg.buttons(message)["👍"]
    await tg.feed(tg.fake.callback_update(ALICE, message, up))
    assert tg.fake.sent("answerCallbackQuery")[-1].params["text"] == texts.FEEDBACK_THANKS["up"]
    await tg.feed(tg.fake.callback_update(BOB, message, up))  # Bob presses Alice's button
    await tg.feed(tg.fake.callback_update(ALICE, message, "fb:up:999999"))  # no such reply
    await tg.feed(tg.fake.callback_update(ALICE, message, "fb:explode:1"))  # forged action
    await tg.feed(tg.fake.callback_update(ALICE, message, "garbage"))  # not ours at all
    answers = [c.params["text"] for c in tg.fake.sent("answerCallbackQuery")[1:]]
    assert answers == [texts.FEEDBACK_STALE] * 4
    async with tg.repo() as repo:
        kinds = list(await repo.session.scalars(select(Feedback.kind)))
    assert kinds == ["up"]


async def test_regenerate_replaces_the_reply_text_in_place(tg: Harness) -> None:
    message = await chat_once(tg, ALICE)
    reply_id = int(tg.buttons(message)["🔄"].split(":")[-1])
    await tg.feed(tg.fake.callback_update(ALICE, message, tg.buttons(message)["🔄"]))
    edit = tg.fake.sent("editMessageText")[-1]
    assert int(edit.params["message_id"]) == message["message_id"] and "parse_mode" not in edit.params
    async with tg.repo() as repo:
        reply = await repo.find_reply(reply_id)
        assert reply.text == edit.params["text"] == message["text"]  # the fake applied the edit
        assert reply.decoding["strategy"] == "sampling"
        assert list(await repo.session.scalars(select(Feedback.kind))) == ["regenerate"]


async def test_a_reply_is_kept_from_every_recent_reply_of_the_bot_not_only_those_the_model_reads(
    tg: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = tg.runtime.generator.backend
    generate, seen = backend.generate, []

    def recording(inputs: list[str], decoding, earlier=None, **options):  # noqa: ANN001, ANN003
        seen.append(earlier)
        return generate(inputs, decoding, earlier, **options)

    monkeypatch.setattr(backend, "generate", recording)
    replies = [(await chat_once(tg, ALICE, question))["text"]
               for question in ("Привет!", "Кем ты работаешь?", "Где ты живёшь?", "Что ты любишь?", "А ещё?")]
    assert backend.format.max_history_turns == 4  # the model reads 2 of the bot's replies back...
    assert seen[-1] == [replies[:4]]  # ...the reply is kept from all 4 of them


async def test_custom_persona_through_the_fsm(tg: Harness) -> None:
    await tg.say(ALICE, "/persona")
    menu = tg.last_message(ALICE)
    await tg.feed(tg.fake.callback_update(ALICE, menu, tg.buttons(menu)[texts.PERSONA_CUSTOM_BUTTON]))
    assert tg.last_text(ALICE).startswith(texts.PERSONA_WRITE_PROMPT)
    await tg.say(ALICE, "/done")
    assert tg.last_text(ALICE) == texts.CUSTOM_NOTHING_YET
    await tg.say(ALICE, "Я живу в Казани.\n\nаб")  # the second fact is too short: all of it rejected
    assert tg.last_text(ALICE).startswith("Факт 2 слишком короткий")
    await tg.feed(tg.fake.sticker_update(ALICE))
    assert tg.last_text(ALICE) == texts.CUSTOM_NEED_TEXT
    await tg.say(ALICE, "Я живу в Казани.\nУ меня есть кот.")
    await tg.say(ALICE, "Я люблю <b>джаз</b>.")
    assert tg.last_text(ALICE) == texts.CUSTOM_ACCEPTED.format(count=3, max_facts=10)
    await tg.say(ALICE, "\n".join(f"Факт номер {n}." for n in range(8)))  # 11 in all: too many
    assert tg.last_text(ALICE).startswith("Слишком много фактов: в сообщении 8, а добавить можно ещё 7.")
    await tg.say(ALICE, "/done")
    assert "Я люблю <b>джаз</b>." in tg.last_text(ALICE)
    async with tg.repo() as repo:
        user = await repo.get_or_create_user("telegram", str(ALICE))
        persona = await repo.current_persona(user)
    assert persona.fact_texts == ["Я живу в Казани.", "У меня есть кот.", "Я люблю <b>джаз</b>."]
    await chat_once(tg, ALICE)  # the chat works with it and the FSM is over
    assert tg.buttons(tg.last_message(ALICE))


async def test_the_persona_form_never_traps_anyone(tg: Harness) -> None:
    """The issue's scenario: twelve facts one a message, /done, «Привет!», /help, /cancel; then commands inside
    the form. The same rules as the console's (``bot.flow``; tests/test_console.py runs the same script)."""
    await tg.say(ALICE, "/persona new")
    assert tg.last_text(ALICE).startswith(texts.PERSONA_WRITE_PROMPT)
    for number in range(1, 13):
        await tg.say(ALICE, f"Факт номер {number}.")
    said = tg.fake.texts_to(ALICE)
    assert said[-3] == texts.CUSTOM_ACCEPTED_FULL.format(count=10, max_facts=10)
    assert said[-2] == said[-1] and said[-1].startswith("Фактов уже 10 — больше нельзя.") and "/done" in said[-1]
    await tg.say(ALICE, "/done")
    assert "• Факт номер 10." in tg.last_text(ALICE) and "Факт номер 11." not in tg.last_text(ALICE)
    await chat_once(tg, ALICE, "Привет!")  # a chat message again, answered
    assert tg.buttons(tg.last_message(ALICE))
    await tg.say(ALICE, "/help")
    assert tg.last_text(ALICE).startswith("Я отвечаю от лица выбранной персоны")
    await tg.say(ALICE, "/cancel")
    assert tg.last_text(ALICE) == texts.NOTHING_TO_FINISH
    # Inside the form: /help helps, another command says to finish first, a fact too long is refused at once.
    await tg.say(ALICE, "/persona new")
    await tg.say(ALICE, "Я врач.")
    await tg.say(ALICE, "/help")
    assert tg.last_text(ALICE).startswith("Вы пишете свою персону: фактов 1 из 10.") and "/cancel" in tg.last_text(ALICE)
    await tg.say(ALICE, "/reset")
    assert tg.last_text(ALICE) == "Вы пишете свою персону: фактов 1 из 10. " + texts.FORM_FINISH_FIRST.format(command="/reset")
    await tg.say(ALICE, "Я " + "очень " * 40 + "люблю кошек.")
    assert tg.last_text(ALICE).startswith("Факт 2 слишком длинный") and "фактов пока: 1 из 10" in tg.last_text(ALICE)
    await tg.say(ALICE, "/cancel")
    assert tg.last_text(ALICE) == texts.PERSONA_CANCELLED
    async with tg.repo() as repo:
        persona = await repo.current_persona(await repo.get_or_create_user("telegram", str(ALICE)))
    assert len(persona.fact_texts) == 10  # the cancelled form changed nothing


async def test_a_persona_number_that_names_nothing_says_what_exists(tg: Harness) -> None:
    presets = len(load_presets())
    for argument in ("999", "0"):
        await tg.say(ALICE, f"/persona {argument}")
        assert tg.last_text(ALICE) == texts.PERSONA_NO_NUMBER.format(number=int(argument), count=presets)
    await tg.say(ALICE, "/persona abc")
    assert tg.last_text(ALICE).startswith("«abc» — не номер персоны.")
    await tg.say(ALICE, "/persona 2")
    assert tg.last_text(ALICE).startswith(texts.PERSONA_CHOSEN) and load_presets()[1].title in tg.last_text(ALICE)


async def test_cancel_keeps_the_persona_and_outside_the_editor_done_is_explained(tg: Harness) -> None:
    await tg.say(ALICE, "/persona")
    menu = tg.last_message(ALICE)
    await tg.feed(tg.fake.callback_update(ALICE, menu, tg.buttons(menu)[texts.PERSONA_CUSTOM_BUTTON]))
    await tg.say(ALICE, "Я пилот.")
    await tg.say(ALICE, "/cancel")
    assert tg.last_text(ALICE) == texts.PERSONA_CANCELLED
    await tg.say(ALICE, "/done")
    assert tg.last_text(ALICE) == texts.NOTHING_TO_FINISH


async def test_switching_persona_resumes_its_own_dialogue(tg: Harness) -> None:
    await chat_once(tg, ALICE, "Первое сообщение первой персоне")
    await tg.say(ALICE, "/persona")
    menu = tg.last_message(ALICE)
    first, second = [data for label, data in tg.buttons(menu).items() if label != texts.PERSONA_CUSTOM_BUTTON][:2]
    await tg.feed(tg.fake.callback_update(ALICE, menu, second))
    await chat_once(tg, ALICE, "Сообщение второй персоне")
    await tg.feed(tg.fake.callback_update(ALICE, menu, first))
    async with tg.repo() as repo:
        user = await repo.get_or_create_user("telegram", str(ALICE))
        dialogue = await repo.active_dialogue(user, await repo.current_persona(user), ALICE)
        history = [m.text for m in await repo.history(dialogue, limit=10) if m.role == "user"]
    assert history == ["Первое сообщение первой персоне"]


async def test_own_personas_are_offered_again_and_resume_their_threads(tg: Harness) -> None:
    async with tg.repo() as repo:
        alice = await tg.runtime.chat.ensure_user(repo, "telegram", str(ALICE))
        bob = await tg.runtime.chat.ensure_user(repo, "telegram", str(BOB))
        await repo.create_persona(bob, texts.CUSTOM_PERSONA_TITLE, ["Я персона Боба."])
        made = [await repo.create_persona(alice, texts.CUSTOM_PERSONA_TITLE, [f"Я персона {n}."]) for n in range(12)]
        await repo.set_current_persona(alice, made[-1])
    await chat_once(tg, ALICE, "Привет, персона 11")
    await tg.say(ALICE, "/persona")
    menu = tg.last_message(ALICE)
    own = [label for label in tg.buttons(menu) if "👤" in label]
    newest = [f"👤 Я персона {n}." for n in range(11, 11 - MAX_OWN_PERSONAS_LISTED, -1)]
    assert own == [f"✅ {newest[0]}", *newest[1:]]  # Bob's is not there, the oldest two are cut
    await tg.feed(tg.fake.callback_update(ALICE, menu, tg.buttons(menu)["👤 Я персона 10."]))
    await chat_once(tg, ALICE, "Привет, персона 10")
    await tg.feed(tg.fake.callback_update(ALICE, menu, tg.buttons(menu)[f"✅ {newest[0]}"]))  # back to 11
    async with tg.repo() as repo:
        alice = await repo.get_or_create_user("telegram", str(ALICE))
        dialogue = await repo.active_dialogue(alice, await repo.current_persona(alice), ALICE)
        assert [m.text for m in await repo.history(dialogue, limit=10) if m.role == "user"] == ["Привет, персона 11"]
        await repo.set_current_persona(alice, made[0])  # an old one beyond the cap stays visible when current
    await tg.say(ALICE, "/persona")
    assert [label for label in tg.buttons(tg.last_message(ALICE)) if "👤" in label][-1] == "✅ 👤 Я персона 0."


async def test_someone_elses_persona_can_not_be_picked(tg: Harness) -> None:
    async with tg.repo() as repo:
        alice = await repo.get_or_create_user("telegram", str(ALICE))
        private = await repo.create_persona(alice, "Секрет", ["Мой секретный факт."])
    await tg.say(BOB, "/persona")
    await tg.feed(tg.fake.callback_update(BOB, tg.last_message(BOB), f"persona:{private.id}"))
    assert tg.fake.sent("answerCallbackQuery")[-1].params["text"] == texts.PERSONA_NOT_FOUND


async def test_export_then_forget_after_confirmation(tg: Harness) -> None:
    await chat_once(tg, ALICE, "Меня зовут Алиса")
    await tg.say(ALICE, "/export")
    assert "Меня зовут Алиса" in str(tg.exported())
    await tg.say(ALICE, "/forget")
    confirm = tg.last_message(ALICE)
    yes = tg.buttons(confirm)[texts.FORGET_YES]
    await tg.feed(tg.fake.callback_update(BOB, confirm, yes))  # Bob can not delete Alice's data
    assert tg.fake.sent("answerCallbackQuery")[-1].params["text"] == texts.NOT_YOUR_BUTTON
    await tg.feed(tg.fake.callback_update(ALICE, confirm, yes))
    assert tg.fake.sent("editMessageText")[-1].params["text"] == texts.FORGET_DONE
    async with tg.repo() as repo:
        users = list(await repo.session.scalars(select(User.external_id)))
        messages = await repo.session.scalar(select(func.count()).select_from(Message))
    assert str(ALICE) not in users and messages == 0


async def test_groups_answer_only_when_addressed(tg: Harness) -> None:
    await tg.say(ALICE, "просто болтаем между собой", chat_id=GROUP)
    assert tg.fake.texts_to(GROUP) == []
    await tg.say(ALICE, f"@{BOT_USERNAME} привет, как дела?", chat_id=GROUP)
    bot_message = tg.last_message(GROUP)
    assert tg.fake.sent("sendMessage", chat_id=GROUP)[-1].params["reply_parameters"]["message_id"]
    await tg.say(BOB, "а ты кто?", chat_id=GROUP, reply_to=bot_message)
    await tg.say(ALICE, "/export", chat_id=GROUP)
    assert len(tg.fake.texts_to(GROUP)) == 3 and tg.last_text(GROUP) == texts.PRIVATE_ONLY
    async with tg.repo() as repo:
        alice = await repo.get_or_create_user("telegram", str(ALICE))
        dialogue = await repo.active_dialogue(alice, await repo.current_persona(alice), GROUP)
        assert [m.text for m in await repo.history(dialogue, limit=10) if m.role == "user"] == ["привет, как дела?"]


async def test_non_text_edits_and_unknown_commands(tg: Harness) -> None:
    await tg.feed(tg.fake.sticker_update(ALICE))
    assert tg.last_text(ALICE) == texts.NON_TEXT
    await tg.feed(tg.fake.edited_update(ALICE, "исправил"))
    assert tg.last_text(ALICE) == texts.EDITED_IGNORED
    await tg.say(ALICE, "/frobnicate junk <args>")
    assert tg.last_text(ALICE) == texts.UNKNOWN_COMMAND.format(command="/frobnicate")
    await tg.feed(tg.fake.sticker_update(ALICE, chat_id=GROUP))  # group stickers are not for the bot
    assert tg.fake.texts_to(GROUP) == []


async def test_stats_only_for_admins(tg: Harness) -> None:
    await chat_once(tg, BOB)
    await tg.say(BOB, "/stats")
    assert tg.last_text(BOB) == texts.ADMIN_ONLY
    await tg.say(ALICE, "/stats")
    assert "Пользователей: 2" in tg.last_text(ALICE) and "ответов 1" in tg.last_text(ALICE)


async def test_an_error_in_one_update_is_contained_and_logged_without_the_token(
    tg: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args, **kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(ChatService, "reply", broken)
    with caplog.at_level(logging.ERROR):
        await tg.say(ALICE, "Привет")
    assert tg.last_text(ALICE) == texts.SOMETHING_WRONG
    assert "database exploded" in caplog.text and tg.fake.token not in caplog.text
    monkeypatch.undo()
    await chat_once(tg, ALICE)  # the bot goes on
    assert list(tg.buttons(tg.last_message(ALICE))) == ["👍", "👎", "🔄"]


async def test_a_reply_the_database_refuses_still_reaches_the_user_and_the_message_is_not_left_pending(
    tg: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with sqlite3.connect(tg.runtime.settings.database_path) as connection:  # SQLite itself refuses bot replies
        connection.execute("CREATE TRIGGER refuse_replies BEFORE INSERT ON messages WHEN NEW.role = 'bot' "
                           "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    with caplog.at_level(logging.ERROR):
        await tg.say(ALICE, "Привет")
    reply = tg.last_message(ALICE)
    assert reply["text"] and "reply_markup" not in reply  # the generated reply, with no buttons to a missing row
    async with tg.repo() as repo:
        message_id, status, error = (await repo.session.execute(select(Message.id, Message.status, Message.error))).one()
    assert (status, error) == ("failed", REPLY_NOT_STORED)
    logged = [r.getMessage() for r in caplog.records if "could not be stored" in r.getMessage()]
    assert len(logged) == 1 and f"message {message_id} " in logged[0]


async def test_past_the_burst_chat_gets_one_notice_and_commands_still_pass(tmp_path: Path, tiny_model_dir: Path) -> None:
    async with telegram_harness(tmp_path, tiny_model_dir, flood_burst=2, flood_per_minute=0.01) as tg:
        for n in range(5):
            await tg.say(ALICE, f"сообщение {n}")
        await tg.say(ALICE, "/help")
        sent = tg.fake.texts_to(ALICE)
        assert sent[2] == texts.FLOODED.format(quote="сообщение 2") and len(sent) == 4  # 2 replies, 1 notice, help
        assert sent[3].startswith(texts.HELP[:30])


async def test_allow_list(tmp_path: Path, tiny_model_dir: Path) -> None:
    async with telegram_harness(tmp_path, tiny_model_dir, allowed_user_ids=frozenset({ALICE})) as tg:
        await tg.say(BOB, "привет")
        assert tg.last_text(BOB) == texts.NOT_ALLOWED
        await chat_once(tg, ALICE)
        async with tg.repo() as repo:
            assert list(await repo.session.scalars(select(User.external_id))) == [str(ALICE)]



async def test_pending_message_that_fails_again_after_restart_is_marked_lost_and_the_user_told(
    tg: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost_text = "Помнишь, о чём мы говорили вчера вечером, когда шёл дождь и гремел гром?"
    async with tg.repo() as repo:
        for platform, user_id, text in [("telegram", ALICE, lost_text), ("telegram", BOB, "Ты тут?"),
                                        ("console", ALICE, "Я из консоли")]:
            user = await tg.runtime.chat.ensure_user(repo, platform, str(user_id))
            dialogue = await repo.active_dialogue(user, await repo.current_persona(user), user_id)
            await repo.add_user_message(dialogue, text)  # left "pending" by a stop
    backend = tg.runtime.generator.backend
    generate, calls = backend.generate, []

    def fails_once(inputs: list[str], decoding, earlier=None, **options):  # noqa: ANN001, ANN003 (on Alice's pending message)
        calls.append(inputs)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return generate(inputs, decoding, earlier, **options)

    monkeypatch.setattr(backend, "generate", fails_once)
    await answer_pending(tg.bot, tg.runtime.database, tg.runtime.chat)
    notice = texts.PENDING_LOST.format(quote="Помнишь, о чём мы говорили вчера вечером, когда шёл дождь и…")
    assert tg.fake.texts_to(ALICE) == [notice]
    (bobs,) = tg.fake.texts_to(BOB)
    assert bobs.startswith(texts.PENDING_ANSWER_PREFIX) and tg.buttons(tg.last_message(BOB))
    async with tg.repo() as repo:
        rows = await repo.session.execute(select(Message.text, Message.status).where(Message.role == "user"))
        statuses = dict(rows.all())
    assert statuses == {lost_text: "lost", "Ты тут?": "answered", "Я из консоли": "pending"}  # console answers its own


async def test_with_redis_a_half_written_persona_survives_a_restart(tmp_path: Path, tiny_model_dir: Path,
                                                                    redis_url: str) -> None:
    """REDIS_URL: the form's state and its facts so far are in Redis, so the bot started again (or another
    worker) goes on with it; one user's form is not another's."""
    async with telegram_harness(tmp_path, tiny_model_dir, redis_url=redis_url) as tg:
        await tg.say(ALICE, "/persona new")
        await tg.say(ALICE, "Я живу в Казани.\nУ меня есть кот.")
        assert tg.last_text(ALICE) == texts.CUSTOM_ACCEPTED.format(count=2, max_facts=10)
    async with telegram_harness(tmp_path, tiny_model_dir, redis_url=redis_url) as tg:  # the restart
        await tg.say(BOB, "Я тоже живу в Казани.")  # Bob is not in Alice's form: a chat message
        assert tg.buttons(tg.last_message(BOB))
        await tg.say(ALICE, "Я люблю джаз.")
        assert tg.last_text(ALICE) == texts.CUSTOM_ACCEPTED.format(count=3, max_facts=10)
        await tg.say(ALICE, "/done")
        async with tg.repo() as repo:
            persona = await repo.current_persona(await repo.get_or_create_user("telegram", str(ALICE)))
        assert persona.fact_texts == ["Я живу в Казани.", "У меня есть кот.", "Я люблю джаз."]
