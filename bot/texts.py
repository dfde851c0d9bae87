"""Every user-facing text of the bot, in Russian, in one place (console and Telegram alike).

Telegram replies are sent without a parse mode, so none of these texts (and nothing a user
or the model writes) is interpreted as HTML or Markdown. Placeholders use ``str.format``.
"""

# --- the chat pipeline (bot/chat.py) ---------------------------------------------------
EMPTY_MESSAGE = "Сообщение пустое — напишите что-нибудь текстом."
TOO_LONG_MESSAGE = "Сообщение слишком длинное: не больше {limit} символов. Попробуйте короче."
CONTROL_CHARACTERS = "В сообщении есть служебные символы, которые я не могу прочитать. Отправьте обычный текст."
NO_PERSONA = "Сначала выберите персону: /persona"
REPLY_FAILED = "Не получилось придумать ответ. Ваше сообщение сохранено — попробуйте ещё раз чуть позже."
REPLY_TIMEOUT = "Я думал слишком долго и не успел ответить. Ваше сообщение сохранено — попробуйте ещё раз."
PENDING_LOST = (
    "Простите, я перезапускался и так и не смог ответить на ваше сообщение «{quote}». "
    "Пожалуйста, отправьте его ещё раз."
)


def shorten(text: str, limit: int = 60) -> str:
    """The start of ``text`` on one line, at most ``limit`` characters (to quote or label with)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pending_lost(text: str) -> str:
    """The notice for a message a restart left unanswered for good, quoting its start."""
    return PENDING_LOST.format(quote=shorten(text))


# --- personas (shared by the console and Telegram) ---------------------------------------
CUSTOM_PERSONA_TITLE = "Своя персона"
PERSONA_CHOSEN = "Готово, теперь я говорю от лица этой персоны:"
PERSONA_CANCELLED = "Отменено, персона не изменилась."
PERSONA_WRITE_PROMPT = (
    "Напишите факты о персоне, по одному в строке (можно несколькими сообщениями), "
    "например «Я работаю учителем.» Когда закончите — /done, передумали — /cancel."
)
RESET_DONE = "Начинаем разговор заново — персона та же."

# --- the persona form and persona numbers (bot/flow.py, both front ends) ------------------------
CUSTOM_LIMITS = "Фактов — от 1 до {max_facts}, каждый от {min_chars} до {max_chars} символов."
CUSTOM_ACCEPTED = "Принято. Фактов: {count} из {max_facts}. Добавьте ещё или отправьте /done."
CUSTOM_ACCEPTED_FULL = "Принято. Фактов: {count} из {max_facts} — больше нельзя. /done — сохранить, /cancel — выйти."
CUSTOM_REJECTED = (
    "{error}\nЭто сообщение не добавлено; фактов пока: {count} из {max_facts}. "
    "Исправьте и пришлите снова, /done — сохранить то, что есть, /cancel — выйти."
)
CUSTOM_TOO_MANY = "Слишком много фактов: в сообщении {lines}, а добавить можно ещё {left}."
CUSTOM_FULL = "Фактов уже {max_facts} — больше нельзя."
CUSTOM_NEED_TEXT = "Пришлите факты текстом, по одному в строке. /done — закончить, /cancel — отменить."
CUSTOM_NOTHING_YET = "Пока нет ни одного факта. Напишите хотя бы один или отправьте /cancel."
FORM_STATUS = "Вы пишете свою персону: фактов {count} из {max_facts}."
FORM_HELP = (
    "Пишите факты о персоне по одному в строке, например «Я работаю учителем.»\n"
    "/done — сохранить персону и говорить от её лица\n"
    "/cancel — выйти, ничего не меняя"
)
FORM_FINISH_FIRST = "Команда {command} сработает после: /done — сохранить, /cancel — выйти."
PERSONA_NOT_A_NUMBER = (
    "«{argument}» — не номер персоны. /persona — список, /persona N — выбрать номер от 1 до {count}, "
    "/persona new — написать свою."
)
PERSONA_NO_NUMBER = "Персоны с номером {number} нет: есть номера от 1 до {count}. Список — /persona."
NOTHING_TO_FINISH = "Сейчас нечего завершать или отменять. Своя персона — через /persona."

# --- memory: what the bot knows of the user (/memory, both front ends) -----------------------
MEMORY_EMPTY = (
    "Я пока ничего о вас не знаю. Расскажите о себе — например, «Меня зовут Оля, я живу в Казани» — "
    "и я это запомню."
)
MEMORY_HEADER = "Что я о вас знаю (помню во всех диалогах и с любой персоной):"
MEMORY_USAGE = "Забыть пункт: /memory forget N; забыть всё: /memory clear."
MEMORY_FORGOT_ONE = "Забыл: «{text}»."
MEMORY_FORGOT_ALL = "Готово: я забыл всё, что знал о вас ({count})."
MEMORY_NO_ITEM = "Пункта {item} нет: в списке {count}. Посмотреть список: /memory"
MEMORY_BAD_COMMAND = "Не понял. /memory — список; /memory forget N — забыть пункт N; /memory clear — забыть всё."


def memory_card(facts: list[str]) -> str:
    """The numbered list /memory shows."""
    if not facts:
        return MEMORY_EMPTY
    lines = [f"{number}. {fact}" for number, fact in enumerate(facts, 1)]
    return "\n".join([MEMORY_HEADER, *lines, "", MEMORY_USAGE])


def persona_card(title: str, facts: list[str]) -> str:
    return "\n".join([f"Персона: {title}", *(f"• {fact}" for fact in facts)])


def persona_chosen(title: str, facts: list[str]) -> str:
    return f"{PERSONA_CHOSEN}\n{persona_card(title, facts)}"


def own_persona_label(facts: list[str]) -> str:
    """A user's own persona in a list: they share one title, so the first fact tells them apart."""
    return f"👤 {shorten(facts[0], 40)}" if facts else f"👤 {CUSTOM_PERSONA_TITLE}"


# --- the console chat (bot/console.py) -----------------------------------------------------
CONSOLE_WELCOME = "Консольный чат с персона-ботом. Пишите сообщения; /help — команды, /quit — выход."
CONSOLE_TYPING = "Бот печатает…"
CONSOLE_BYE = "До встречи!"
CONSOLE_HELP = (
    "Команды:\n"
    "  /persona        — текущая персона, готовые и ваши персоны\n"
    "  /persona N      — выбрать персону номер N из этого списка\n"
    "  /persona new    — написать свою (факты по одному в строке, затем /done)\n"
    "  /reset          — начать разговор заново\n"
    "  /memory         — что бот знает о вас (/memory forget N, /memory clear — забыть)\n"
    "  /export         — все ваши данные файлом JSON\n"
    "  /forget         — удалить все ваши данные (/forget yes — подтвердить)\n"
    "  /quit           — выход"
)
CONSOLE_EXPORTED = "Ваши данные записаны в файл {path}"
CONSOLE_FORGET_CONFIRM = (
    "Удалить все ваши данные — персоны, диалоги, что я о вас запомнил, и оценки? Это нельзя отменить. "
    "Подтвердите: /forget yes"
)
CONSOLE_PRESETS_HEADER = "Готовые персоны:"
CONSOLE_OWN_HEADER = "Ваши персоны:"
CONSOLE_PENDING_ANSWER = "Ответ на сообщение, оставшееся без ответа в прошлый раз: «{quote}»"
CONSOLE_PERSONA_USAGE = "Выбрать: /persona N; написать свою: /persona new"
UNKNOWN_COMMAND = "Не знаю команду {command}. Список команд: /help"


# --- Telegram (bot/telegram, bot/handlers) ------------------------------------------------

# ---- commands (setMyCommands) ---------------------------------------------------------------
COMMANDS = {
    "start": "Начать и выбрать персону",
    "persona": "Текущая персона и выбор другой",
    "reset": "Начать диалог заново",
    "memory": "Что бот знает обо мне",
    "help": "Что умеет бот",
    "export": "Скачать мои данные",
    "forget": "Удалить все мои данные",
}
ADMIN_COMMANDS = {"stats": "Статистика (для администраторов)"}

# ---- start and help -------------------------------------------------------------------------
START = (
    "Привет, {name}! Я бот-собеседник с характером: отвечаю от лица персоны — "
    "человека с несколькими фактами о себе. Просто напишите мне что-нибудь."
)
HELP = (
    "Я отвечаю от лица выбранной персоны, помня наш разговор.\n\n"
    "/persona — текущая персона, выбор другой или своя персона\n"
    "/reset — начать диалог с этой персоной заново\n"
    "/memory — что я о вас запомнил (и забыть это)\n"
    "/export — прислать все мои данные файлом JSON\n"
    "/forget — удалить все мои данные\n"
    "/help — эта справка\n\n"
    "Под каждым ответом есть кнопки: 👍 и 👎 — оценка, 🔄 — другой вариант ответа.\n"
    "В группах я отвечаю, только когда меня упомянули (@{username}) или ответили на моё сообщение.\n"
    "Ответы придумывает нейросеть: они могут быть неточными."
)
NOT_ALLOWED = "Извините, этот бот пока доступен только приглашённым пользователям."

# ---- personas -------------------------------------------------------------------------------
PERSONA_PICK = "Выберите другую персону или напишите свою:"
PERSONA_CUSTOM_BUTTON = "✍️ Написать свою"
PERSONA_NOT_FOUND = "Эта персона недоступна. Откройте /persona и выберите снова."

# ---- chatting -------------------------------------------------------------------------------
FLOODED = (
    "Слишком много сообщений подряд. Начиная с «{quote}», я их пропускаю и не сохраняю; "
    "через минуту снова буду отвечать — повторите, что важно."
)
PENDING_ANSWER_PREFIX = "Отвечаю на ваше сообщение, пришедшее, пока я перезапускался:\n\n"

# ---- feedback -------------------------------------------------------------------------------
FEEDBACK_THANKS = {"up": "Спасибо! Рад, что понравилось 👍", "down": "Спасибо, учту 👎"}
REGENERATING = "Придумываю другой вариант…"
FEEDBACK_STALE = "Эта кнопка больше не работает: ответ удалён или принадлежит не вам."

# ---- non-text, edits, errors ----------------------------------------------------------------
NON_TEXT = "Я понимаю только текст: стикеры, фото, голосовые и файлы пока не умею. Напишите словами 🙂"
EDITED_IGNORED = "Я не отвечаю заново на исправленные сообщения. Если нужно — отправьте текст новым сообщением."
SOMETHING_WRONG = "Что-то пошло не так. Попробуйте ещё раз; если не выйдет — /reset."

# ---- privacy --------------------------------------------------------------------------------
PRIVATE_ONLY = "Эта команда работает только в личном чате со мной — ваши данные не для группы."
NOT_YOUR_BUTTON = "Эта кнопка не для вас."
EXPORT_CAPTION = "Все ваши данные в этом боте: персоны, диалоги, что я о вас запомнил, и оценки."
FORGET_CONFIRM = "Удалить все ваши данные — персоны, диалоги, что я о вас запомнил, и оценки? Это нельзя отменить."
FORGET_YES = "Да, удалить всё"
FORGET_NO = "Нет, оставить"
FORGET_DONE = "Готово: все ваши данные удалены. Если напишете снова, начнём с чистого листа."
FORGET_KEPT = "Хорошо, ничего не удалено."

# ---- admin ----------------------------------------------------------------------------------
ADMIN_ONLY = "Эта команда только для администраторов."
STATS = (
    "Статистика\n"
    "Пользователей: {users}\n"
    "Сообщений: {messages} (от пользователей {user_messages}, ответов {bot_replies})\n"
    "Средняя задержка ответа за {days} дн.: {latency}\n"
    "👍 {up} · 👎 {down} · 🔄 {regenerate}\n\n"
    "Ответов по дням (UTC):\n{per_day}"
)
STATS_DAY = "{day}: {replies}"
STATS_NO_LATENCY = "нет данных"
