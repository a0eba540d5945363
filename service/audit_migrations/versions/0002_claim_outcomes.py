"""claim_outcomes: the payer's adjudicated outcomes of served claims (`medspa-coverage outcomes`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

A new table beside served_claims (service.outcomes.store): additive, so hosts still on 0001 keep
serving beside it. One row per distinct outcome, `outcome_key` unique, so an ingest repeated adds
nothing; a claim's later outcome is a row of its own.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "claim_outcomes",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("outcome_key", sa.String(64), nullable=False, unique=True),
        sa.Column("claim_id", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("paid_amount", sa.Float(), nullable=False),
        sa.Column("denial_reason", sa.String(8), nullable=False),
        sa.Column("adjudication_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_claim_outcomes_claim_id", "claim_outcomes", ["claim_id"])
