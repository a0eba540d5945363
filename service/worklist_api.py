"""GET /v1/worklist: the denial worklist (service.outcomes.worklist) of the calling key's own
claims, for the page and any client: the same rows and ranking as `medspa-coverage outcomes
worklist`, each claim run through the playbook with the served model.

Only the claims this key (or a page session of it) was answered are read: another key's claims,
denied or not, never appear, and are not counted. Every denied claim is scored again in the
request, so the window may hold at most WORKLIST_MAX_CLAIMS of them (422 `worklist_too_large`
beyond, naming `since`); a longer list is the command's job. The answer holds claims and letter
drafts: the audit store keeps that the worklist was answered for this request id
(service.paperwork), not its rows.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g
from flask import request as flask_request

from service.auth import require_api_key
from service.errors import APIError, field_error
from service.monitoring import parse_time
from service.outcomes.worklist import WorklistTooLarge, build_worklist
from service.paperwork import WORKLIST, record_paperwork

bp = Blueprint("worklist", __name__)
bp.before_request(require_api_key)

WORKLIST_MAX_CLAIMS = 200  # each is scored two or three times in the request, within the worker's timeout
SINCE_RULE = "must be an ISO 8601 date or time in the past, such as 2026-03-02 or 2026-03-02T08:00 (optional)"


@bp.get("/v1/worklist")
def worklist():
    since = read_since(flask_request.args.get("since"))
    try:
        found = build_worklist(current_app.extensions["audit_store"], current_app.extensions["coverage_model"].answer,
                               since, key_id=g.key_id, max_claims=WORKLIST_MAX_CLAIMS)
    except WorklistTooLarge as error:
        raise APIError(422, "worklist_too_large", f"{error}: ask for a later start",
                       [field_error("since", f"{SINCE_RULE}; at most {WORKLIST_MAX_CLAIMS} denied claims may be "
                                             "in the window (`medspa-coverage outcomes worklist` has no limit)")])
    record_paperwork(WORKLIST)
    g.log_counts = {"claims": len(found.frame)}
    return {"rows": found.records(), "denied_claims": len(found.frame), "expected_recovery": found.expected_recovery,
            "unlisted_carc": found.unlisted_carc, "max_claims": WORKLIST_MAX_CLAIMS, "request_id": g.request_id}


def read_since(value: str | None):
    """The `since` parameter as a UTC time, or None; 422 naming it otherwise (never echoing it)."""
    if value is None or not value.strip():
        return None
    try:
        since = parse_time(value.strip()) if len(value) <= 40 else None
    except ValueError:
        since = None
    if since is None or since > parse_time(None):
        raise APIError(422, "invalid_request", "the worklist request is not valid: errors names the parameter",
                       [field_error("since", SINCE_RULE)])
    return since


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
