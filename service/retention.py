"""Audit retention: rows older than `AUDIT_RETENTION_DAYS` are deleted in the background and a
SQLite store gives the space back (service.audit's `prune_before`): served claims by the time
they were served, and their adjudicated outcomes (service.outcomes.store) by the time they were
ingested, as they too hold claim ids and what the payer decided; the records of drafted letters
and played denials (service.paperwork) by the time they were made.

The default, 2,190 days (six years), follows HIPAA's retention of required documentation
(45 CFR 164.316(b)(2)), the period most covered entities apply to audit records; a shorter one
keeps less patient data (the minimum-necessary standard) where no law or contract asks for more.
0 keeps every row. One worker prunes at a time (the store's lock: on PostgreSQL one for every
host, on SQLite one beside the file); the others skip that round.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from flask import Flask

from service.background import start_job
from service.outcomes.store import claim_outcomes
from service.paperwork import paperwork_records

PRUNE_EVERY_SECONDS = 3600
LOCK_NAME = "retention"
log = logging.getLogger(__name__)


def prune_expired(app: Flask, now: datetime | None = None) -> int | None:
    """Delete the audit rows (served claims, outcomes) older than the retention; the count, or None
    when another worker is at it."""
    days = app.config["AUDIT_RETENTION_DAYS"]
    store = app.extensions["audit_store"]
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    with store.exclusive(LOCK_NAME) as held:
        if not held:
            return None
        deleted = store.prune_before(cutoff, dated=(claim_outcomes.c.ingested_at, paperwork_records.c.recorded_at))
    if deleted:
        log.info("audit rows past retention deleted", extra={"claims": deleted})
    return deleted


def init_app(app: Flask) -> None:
    if app.config["AUDIT_RETENTION_DAYS"] > 0:
        start_job(app, "audit-retention", PRUNE_EVERY_SECONDS, lambda: prune_expired(app))
