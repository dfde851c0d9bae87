"""Alembic migrations of the bot's database; a package so that installs ship them."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
