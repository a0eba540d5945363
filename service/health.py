"""Health endpoints for the process manager and the load balancer (no API key needed).

`/healthz/live`: the process answers. `/healthz/ready`: a model is loaded and warmed up and the
worker is not draining; 503 otherwise. Draining starts on SIGTERM (the gunicorn config calls
`start_draining`), so a balancer stops sending new work while requests in flight finish.
"""
from __future__ import annotations

import threading

from flask import Blueprint, Flask, current_app, jsonify

from service.errors import APIError

bp = Blueprint("health", __name__, url_prefix="/healthz")


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
    return jsonify(status="ready")


def init_app(app: Flask) -> None:
    app.extensions["draining"] = threading.Event()
    app.register_blueprint(bp)
