"""Initial schema: users, personas and their facts, dialogues, messages, feedback.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# users and personas refer to each other. SQLite accepts a foreign key to a table created later (and cannot
# add one afterwards), so there users name personas before personas exists; PostgreSQL adds it afterwards.
USERS_PERSONA_FK = "fk_users_current_persona_id_personas"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    persona_fk = [sa.ForeignKeyConstraint(["current_persona_id"], ["personas.id"], name=USERS_PERSONA_FK,
                                          ondelete="SET NULL")] if _sqlite() else []
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("current_persona_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("platform", "external_id", name="uq_users_platform_external_id"),
        sa.CheckConstraint("platform IN ('telegram', 'console')", name="ck_users_platform"),
        *persona_fk,
    )
    op.create_table(
        "personas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("preset_key", sa.String(64), nullable=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_personas"),
        sa.UniqueConstraint("preset_key", name="uq_personas_preset_key"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_personas_owner_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_personas_owner_id", "personas", ["owner_id"])
    if not persona_fk:
        op.create_foreign_key(USERS_PERSONA_FK, "users", "personas", ["current_persona_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "persona_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("persona_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persona_facts"),
        sa.UniqueConstraint("persona_id", "position", name="uq_persona_facts_persona_id_position"),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name="fk_persona_facts_persona_id_personas", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "dialogues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("persona_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dialogues"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_dialogues_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["persona_id"], ["personas.id"], name="fk_dialogues_persona_id_personas", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_dialogues_user_id", "dialogues", ["user_id"])
    op.create_index("ix_dialogues_persona_id", "dialogues", ["persona_id"])
    op.create_index(
        "uq_dialogues_open",
        "dialogues",
        ["user_id", "persona_id", "chat_id"],
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dialogue_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("reply_to_id", sa.Integer(), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("model_id", sa.String(256), nullable=True),
        sa.Column("decoding", sa.JSON(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.CheckConstraint("role IN ('user', 'bot')", name="ck_messages_role"),
        sa.CheckConstraint(
            "status IN ('pending', 'answered', 'failed', 'lost', 'sent')", name="ck_messages_status"
        ),
        sa.ForeignKeyConstraint(
            ["dialogue_id"], ["dialogues.id"], name="fk_messages_dialogue_id_dialogues", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"], ["messages.id"], name="fk_messages_reply_to_id_messages", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_messages_dialogue_id_id", "messages", ["dialogue_id", "id"])
    op.create_index("ix_messages_status", "messages", ["status"])
    op.create_index("ix_messages_reply_to_id", "messages", ["reply_to_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.CheckConstraint("kind IN ('up', 'down', 'regenerate')", name="ck_feedback_kind"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_feedback_message_id_messages", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_feedback_user_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_feedback_message_id", "feedback", ["message_id"])
    op.create_index("ix_feedback_user_id", "feedback", ["user_id"])


def downgrade() -> None:
    # Children first; the tables are emptied by DROP, so no cascade has to run across them.
    if not _sqlite():
        op.drop_constraint(USERS_PERSONA_FK, "users", type_="foreignkey")
    for table in ("feedback", "messages", "dialogues", "persona_facts", "personas", "users"):
        op.drop_table(table)
