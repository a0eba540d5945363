"""What the audit store keeps of the paperwork routes: that a letter of medical necessity was
drafted (POST /v1/letters), a denial run through the playbook (POST /v1/denials) or the denial
worklist answered with its letter drafts (GET /v1/worklist), for which request id and key, and when. Never the letter's text, the claim or the playbook's answer: the
letter is the clinic's document, and the claim of a playbook call is one the payer already has.

Written before the answer leaves, as every audit row is: a store that cannot take the row is a 503
`audit_unavailable`, and nothing is answered. The retention job prunes these rows by
`recorded_at` (service.retention).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import current_app, g
from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, insert
from sqlalchemy.exc import SQLAlchemyError

from service.audit import AuditUnavailable, database_error_reason, metadata

LETTER, DENIAL_PLAYBOOK, WORKLIST = "letter", "denial_playbook", "worklist"
KINDS = (LETTER, DENIAL_PLAYBOOK, WORKLIST)
log = logging.getLogger(__name__)

paperwork_records = Table(
    "paperwork_records",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("request_id", String(32), nullable=False),
    Column("recorded_at", DateTime, nullable=False),  # UTC
    Column("key_id", String(16), nullable=False),
    Column("kind", String(16), nullable=False),  # KINDS
)
Index("ix_paperwork_records_recorded_at", paperwork_records.c.recorded_at)


def record_paperwork(kind: str) -> None:
    """Commit that this request drafted a letter or played a denial; 503 when the store cannot take it."""
    row = {"request_id": g.request_id, "recorded_at": datetime.now(timezone.utc).replace(tzinfo=None),
           "key_id": g.key_id, "kind": kind}
    try:
        with current_app.extensions["audit_store"].engine.begin() as connection:
            connection.execute(insert(paperwork_records), [row])
    except SQLAlchemyError as error:  # the log names the cause, never the request
        log.error("audit write failed; nothing answered", extra={"detail": database_error_reason(error)})
        raise AuditUnavailable() from None
