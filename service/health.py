"""Health endpoints for the process manager and the load balancer (no API key needed).

`/healthz/live`: the process answers. `/healthz/ready`: a model is loaded and warmed up, the
worker is not draining, and the audit store can be written (every answer is audited first, so a
store that cannot take a write answers nothing): a probe write, and for a SQLite store at least
`AUDIT_MIN_FREE_MB` free on its disk; 503 otherwise. Draining starts on SIGTERM (the gunicorn
config calls `start_draining`), so a balancer stops sending new work while requests in flight
finish. The log says when the audit store stops or starts taking writes again, and why, in words
that hold no data.
"""
from __future__ import annotations

import logging
import threading

from flask import Blueprint, Flask, current_app, jsonify

from service.audit import AuditUnavailable
from service.errors import APIError

bp = Blueprint("health", __name__, url_prefix="/healthz")
log = logging.getLogger(__name__)


class AuditWatch:
    """Whether the audit store takes writes, logged when that changes (not on every probe)."""

    def __init__(self, store, min_free_bytes: int):
        self.store, self.min_free_bytes = store, min_free_bytes
        self.cause: str | None = None
        self._lock = threading.Lock()

    def check(self) -> str | None:
        cause = self.store.unwritable_cause(self.min_free_bytes)
        with self._lock:
            if cause != self.cause:
                if cause is None:
                    log.info("audit store takes writes again")
                else:
                    log.warning("audit store cannot be written; not ready", extra={"detail": cause})
            self.cause = cause
        return cause


def start_draining(app: Flask) -> None:
    app.extensions["draining"].set()


@bp.get("/live")
def live():
    return jsonify(status="live")


@bp.get("/ready")
def ready():
    if current_app.extensions["draining"].is_set():
        raise APIError(503, "draining", "this worker is shutting down; new requests go elsewhere")
    if not current_app.extensions["coverage_model"].ready:
        raise APIError(503, "model_unavailable", "no model is loaded and warmed up yet",
                       headers={"Retry-After": "5"})
    if current_app.extensions["audit_watch"].check() is not None:
        raise AuditUnavailable()
    return jsonify(status="ready")


def init_app(app: Flask) -> None:
    app.extensions["draining"] = threading.Event()
    app.extensions["audit_watch"] = AuditWatch(app.extensions["audit_store"], app.config["AUDIT_MIN_FREE_MB"] * 2**20)
    app.register_blueprint(bp)
