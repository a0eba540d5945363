"""The served claims the outcomes judge, read back from the audit store.

A claim id may have been answered more than once (the front desk asked again, or after a new
model was promoted); the answer that counts is the last one served, the one the provider acted
on before submitting. Claims sent without a claim_id can never meet an outcome.

The audit store keeps the claim as JSON, so this reads it in chunks (service.audit.read_chunks)
and keeps only the claims asked for: memory grows with the outcomes, not with the store.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ServedClaim:
    claim: dict  # the canonical claim, as the audit store keeps it (service.claims.claim_to_json)
    answer: dict
    model_name: str | None
    model_version: str | None
    served_at: datetime


def served_window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """[since, until): from the first served claim to now (and a minute, for clocks) by default."""
    return since or EPOCH, until or datetime.now(timezone.utc) + timedelta(minutes=1)


def last_served(audit_store, claim_ids: set[str] | None = None, since: datetime | None = None,
                until: datetime | None = None, key_id: str | None = None) -> dict[str, ServedClaim]:
    """claim_id -> the last answer served for it in the window (only the ids given, when given; only
    those served to that API key, when one is given)."""
    start, end = served_window(since, until)
    served: dict[str, ServedClaim] = {}
    for chunk in audit_store.read_chunks(start, end):
        for record in chunk:
            claim_id = record.claim.get("claim_id")
            if claim_id is None or (claim_ids is not None and claim_id not in claim_ids) or (
                    key_id is not None and record.key_id != key_id):
                continue
            served[claim_id] = ServedClaim(record.claim, record.answer, record.model_name, record.model_version,
                                           record.served_at)
    return served
