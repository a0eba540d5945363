"""The audit store as it was before migrations: served_claims, write_probe, rate_buckets.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Every table and index is created only when missing, so a database made before migrations (by
CREATE TABLE IF NOT EXISTS, no alembic_version table) is adopted as it is, rows and all; the
columns of a table that was already there are checked, and a store whose tables lack one of them
is refused with their names rather than served half-right. The row id is a BIGINT on PostgreSQL
(years of audit rows pass 2^31) and SQLite's INTEGER rowid there, as before.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = {
    "served_claims": [
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("served_at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(200)),
        sa.Column("model_version", sa.String(64)),
        sa.Column("rules_version", sa.String(64)),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    ],
    "write_probe": [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("probed_at", sa.DateTime(), nullable=False),
    ],
    "rate_buckets": [
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("requests", sa.Float(), nullable=False),
        sa.Column("claims", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
    ],
}


def upgrade() -> None:
    existing = sa.inspect(op.get_bind())
    for name, columns in TABLES.items():
        if existing.has_table(name):
            missing = {column.name for column in columns} - {column["name"] for column in existing.get_columns(name)}
            if missing:
                raise RuntimeError(f"the audit table {name} lacks the columns {sorted(missing)}: it was made by an "
                                   "older release; upgrade through that release's schema first")
        else:
            op.create_table(name, *columns)
    op.create_index("ix_served_claims_served_at", "served_claims", ["served_at"], if_not_exists=True)
