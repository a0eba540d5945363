"""The one audit write: every answered claim into the audit store together with the key's claims
charge, in one commit, before the answer leaves. /v1/predict and /invocations (service.api) and
the scored files (service.file_jobs) all write through it, so a file is never a way around the
audit or the rate limit."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask

from service.audit import AuditRecord
from service.claims import claim_to_json


def record_answers(app: Flask, *, request_id: str, key_id: str, latency_ms: float, claims, answers: list[dict],
                   model: dict | None = None, rules_version: str | None = None,
                   answer_texts: list[str] | None = None) -> None:
    """Commit one audit row per answered claim (`claims` and `answers` aligned) with the key's
    claims charge. The model (`{"name", "version", "run_id", "manifest_sha256"}`, the served model's
    identity, scoring.model_identity: the answers show name and version only) and the rules version
    are each answer's own unless given. answer_texts: the answers as service.audit.compact_json
    wrote them, when the caller has them already (the response's own bytes). Raises SQLAlchemyError when the store cannot be written:
    nothing is committed."""
    served_at = datetime.now(timezone.utc)
    records = []
    for claim, answer, text in zip(claims, answers, answer_texts or [None] * len(answers)):
        served_by = model or answer.get("model") or {}
        version = served_by.get("version")
        records.append(AuditRecord(
            request_id=request_id, served_at=served_at, key_id=key_id, model_name=served_by.get("name"),
            model_version=None if version is None else str(version),
            rules_version=rules_version or answer.get("rules_version"), claim=claim_to_json(claim), answer=answer,
            latency_ms=latency_ms, model_run_id=served_by.get("run_id"),
            model_manifest_sha256=served_by.get("manifest_sha256"), answer_json=text))
    charge = app.extensions["rate_limiter"].claims_charge(key_id, len(records))
    app.extensions["audit_store"].record_many(records, also=[charge])
