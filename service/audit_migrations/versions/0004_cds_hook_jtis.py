"""cds_hook_jtis: the `jti`s of CDS Hooks clients' JWTs already seen (service.cds_hooks.client_jwt).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

A new table, additive: hosts still on 0002 keep serving beside it. One row per (issuer, jti),
keyed by their sha256, kept until the token expires; a replayed token finds its row and is refused.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_hook_jtis",
        sa.Column("jti_key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_cds_hook_jtis_expires_at", "cds_hook_jtis", ["expires_at"])
