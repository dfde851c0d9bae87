"""Persistence: SQLite through SQLAlchemy 2 async, schema managed by Alembic."""

from bot.storage.database import Database
from bot.storage.models import Dialogue, Feedback, Message, Persona, PersonaFact, User

__all__ = ["Database", "Dialogue", "Feedback", "Message", "Persona", "PersonaFact", "User"]
