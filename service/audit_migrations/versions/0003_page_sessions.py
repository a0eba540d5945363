"""page_sessions: the page's live sign-ins, so that sign-out revokes a cookie (service.sessions).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

A new table: additive, so hosts still on 0002 keep serving beside it (their sessions are not
checked against it until they run this release).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_sessions",
        sa.Column("session_digest", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
    )
