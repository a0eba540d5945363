"""paperwork_records (that a letter was drafted, or a denial played, for a request id) and
claim_outcomes.group_code (the X12 group code the payer gave each denial).

Revision ID: 0006_letter_records
Revises: 0004
Create Date: 2026-12-09

Both additive, so hosts still on 0004 keep serving beside them: a new table (service.paperwork),
and a column with a default ("": not given), which outcomes ingested before it keep. The letter's
text, the claim and the playbook's answer are never stored: only the request id, the key id, the
kind and when.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "paperwork_records",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_paperwork_records_recorded_at", "paperwork_records", ["recorded_at"])
    op.add_column("claim_outcomes", sa.Column("group_code", sa.String(2), nullable=False, server_default=""))
