"""Every user-facing text of the bot, in Russian, in one place (console and Telegram alike)."""

# --- the chat pipeline (bot/chat.py) ---------------------------------------------------
EMPTY_MESSAGE = "Сообщение пустое — напишите что-нибудь текстом."
TOO_LONG_MESSAGE = "Сообщение слишком длинное: не больше {limit} символов. Попробуйте короче."
CONTROL_CHARACTERS = "В сообщении есть служебные символы, которые я не могу прочитать. Отправьте обычный текст."
NO_PERSONA = "Сначала выберите персону: /persona"
REPLY_FAILED = "Не получилось придумать ответ. Ваше сообщение сохранено — попробуйте ещё раз чуть позже."
REPLY_TIMEOUT = "Я думал слишком долго и не успел ответить. Ваше сообщение сохранено — попробуйте ещё раз."

# --- personas (shared by the console and Telegram) ---------------------------------------
CUSTOM_PERSONA_TITLE = "Своя персона"
PERSONA_CHOSEN = "Готово, теперь я говорю от лица этой персоны:"
PERSONA_CANCELLED = "Отменено, персона не изменилась."
PERSONA_WRITE_PROMPT = (
    "Напишите факты о персоне, по одному в строке (можно несколькими сообщениями), "
    "например «Я работаю учителем.» Когда закончите — /done, передумали — /cancel."
)
RESET_DONE = "Начинаем разговор заново — персона та же."


def persona_card(title: str, facts: list[str]) -> str:
    return "\n".join([f"Персона: {title}", *(f"• {fact}" for fact in facts)])


# --- the console chat (bot/console.py) -----------------------------------------------------
CONSOLE_WELCOME = "Консольный чат с персона-ботом. Пишите сообщения; /help — команды, /quit — выход."
CONSOLE_BYE = "До встречи!"
CONSOLE_HELP = (
    "Команды:\n"
    "  /persona        — текущая персона и список готовых\n"
    "  /persona N      — выбрать готовую персону номер N\n"
    "  /persona new    — написать свою (факты по одному в строке, затем /done)\n"
    "  /reset          — начать разговор заново\n"
    "  /quit           — выход"
)
CONSOLE_PRESETS_HEADER = "Готовые персоны:"
CONSOLE_PERSONA_USAGE = "Выбрать: /persona N; написать свою: /persona new"
UNKNOWN_COMMAND = "Не знаю команду {command}. Список команд: /help"
