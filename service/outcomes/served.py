"""The served claims the outcomes judge, read back from the audit store.

A claim id may have been answered more than once (the front desk asked again, or after a new
model was promoted); the answer that counts is the last one served, the one the provider acted
on before submitting. Claims sent without a claim_id can never meet an outcome.

Claims asked for by id are found through the audit store's index on the claim id
(service.audit.read_claims): time and memory grow with the outcomes, not with the store. Without
ids, the window is read in chunks (service.audit.read_chunks).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scoring.model_identity import Identity

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ServedClaim:
    claim: dict  # the canonical claim, as the audit store keeps it (service.claims.claim_to_json)
    answer: dict
    model_name: str | None
    model_version: str | None
    served_at: datetime
    identity: Identity  # what the model was beyond its number (scoring.model_identity)


def served_window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """[since, until): from the first served claim to now (and a minute, for clocks) by default."""
    return since or EPOCH, until or datetime.now(timezone.utc) + timedelta(minutes=1)


def last_served(audit_store, claim_ids: set[str] | None = None, since: datetime | None = None,
                until: datetime | None = None, key_id: str | None = None) -> dict[str, ServedClaim]:
    """claim_id -> the last answer served for it in the window (only the ids given, when given; only
    those served to that API key, when one is given)."""
    start, end = served_window(since, until)
    if claim_ids is not None:
        records = audit_store.read_claims(claim_ids, start, end)
    else:
        records = (record for chunk in audit_store.read_chunks(start, end) for record in chunk)
    served: dict[str, ServedClaim] = {}
    for record in records:  # each claim's rows oldest first: the last one stays
        claim_id = record.claim.get("claim_id")
        if claim_id is None or (key_id is not None and record.key_id != key_id):
            continue
        served[claim_id] = ServedClaim(record.claim, record.answer, record.model_name, record.model_version,
                                       record.served_at, Identity(record.model_run_id, record.model_manifest_sha256))
    return served
