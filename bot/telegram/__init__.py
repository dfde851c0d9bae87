"""The Telegram front end on aiogram 3: bot and dispatcher set-up, middlewares, keyboards, runners.

The handlers themselves live in ``bot.handlers`` (one router per feature); the chat logic
they call is ``bot.chat.ChatService``, shared with the console.
"""
