"""served_claims records what the model is (run id, manifest digest) and the claim's id, indexed.

Revision ID: 0005_audit_model_identity
Revises: 0004
Create Date: 2026-12-08

Three nullable columns, additive: hosts still on 0004 keep writing rows without them (those rows
are attributed by version number alone, as every row before this revision is, and the monitor and
the outcomes report say so). `model_run_id` and `model_manifest_sha256` let the monitor, the
outcomes report, the review and the model swap refuse to attribute served claims to another
model that carries the same version number (scoring.model_identity); an index over name, version,
run and digest makes the swap's check a few index look-ups. `claim_id` is the claim's own id,
copied out of the claim JSON (for existing rows too, here, in one UPDATE) and indexed, so that
`outcomes ingest` finds a file's claims by index instead of reading the whole store.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MAX_CLAIM_ID_LENGTH = 200  # service.outcomes.records' (a shipped revision never follows the code's later changes)
BACKFILL = {  # the claim's id when it is a text an outcome may carry (service.audit.indexed_claim_id)
    "sqlite": ("UPDATE served_claims SET claim_id = json_extract(claim, '$.claim_id') "
               "WHERE json_type(claim, '$.claim_id') = 'text' "
               f"AND length(json_extract(claim, '$.claim_id')) BETWEEN 1 AND {MAX_CLAIM_ID_LENGTH}"),
    "postgresql": ("UPDATE served_claims SET claim_id = claim::json ->> 'claim_id' "
                   "WHERE json_typeof(claim::json -> 'claim_id') = 'string' "
                   f"AND length(claim::json ->> 'claim_id') BETWEEN 1 AND {MAX_CLAIM_ID_LENGTH}"),
}


def upgrade() -> None:
    op.add_column("served_claims", sa.Column("model_run_id", sa.String(64)))
    op.add_column("served_claims", sa.Column("model_manifest_sha256", sa.String(64)))
    op.add_column("served_claims", sa.Column("claim_id", sa.String(MAX_CLAIM_ID_LENGTH)))
    backfill = BACKFILL.get(op.get_bind().dialect.name)
    if backfill is not None:  # the audit store runs on SQLite or PostgreSQL only
        op.execute(backfill)
    op.create_index("ix_served_claims_claim_id", "served_claims", ["claim_id"])
    op.create_index("ix_served_claims_model_identity", "served_claims",
                    ["model_name", "model_version", "model_run_id", "model_manifest_sha256"])
