"""User facts: what each user said about themself (name, city, job, …), remembered per user and used in
the model input; listed and deleted with /memory, exported with /export, erased with /forget.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = ("name", "age", "city", "job", "family", "pets", "likes", "plans", "other")


def upgrade() -> None:
    op.create_table(
        "user_facts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("slot IN (" + ", ".join(f"'{s}'" for s in SLOTS) + ")", name=op.f("ck_user_facts_slot")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_facts_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_message_id"], ["messages.id"], name=op.f("fk_user_facts_source_message_id_messages"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_facts")),
    )
    op.create_index(op.f("ix_user_facts_user_id"), "user_facts", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_user_facts_user_id"), table_name="user_facts")
    op.drop_table("user_facts")
