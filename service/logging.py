"""Structured JSON operational logs, one line per event, with no patient data.

Only whitelisted fields reach a line (request id, method, route, status, latency, key id, counts,
model version, and `detail`, which only startup and model-loading code use, for messages that
never hold request data); a field passed under any other name is dropped, so a careless `extra=` cannot
leak a claim. Exceptions are written as their type and stack frames, never their message, which
may quote input. The path is the matched route (`/v1/predict`), never the raw URL. The audit
store, not this log, is where claims and answers are kept.
"""
from __future__ import annotations

import json
import logging
import time
import traceback

from flask import Flask, g, request

LOGGER_NAME = "service"
LOG_FIELDS = ("request_id", "method", "path", "status", "latency_ms", "key_id", "claims", "answered",
              "rejected", "letters_drafted", "estimates_made", "model_version", "error_code", "detail")
_HANDLER_MARK = "_medspa_coverage_json"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

log = logging.getLogger(f"{LOGGER_NAME}.requests")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "event": record.msg if isinstance(record.msg, str) else type(record.msg).__name__,
        }
        for name in LOG_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__name__
            line["stack"] = [f"{frame.filename}:{frame.lineno} in {frame.name}"
                             for frame in traceback.extract_tb(record.exc_info[2])]
        return json.dumps(line, default=str)


def configure_logging(app: Flask) -> None:
    """Send the service's loggers to stderr as JSON lines (idempotent; called by create_app)."""
    from flask.logging import default_handler

    logger = logging.getLogger(LOGGER_NAME)
    logger.removeHandler(default_handler)
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_log_request)


def _start_request() -> None:
    g.started = time.perf_counter()


def route_and_method() -> tuple[str, str]:
    """The request's matched route (`/v1/predict`, never the URL; `(unmatched)` for a 404) and its
    method (`(other)` for a name HTTP does not define): what logs and metrics may name."""
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    return route, request.method if request.method in _METHODS else "(other)"


def _log_request(response):
    started = g.get("started")
    route, method = route_and_method()
    fields = {
        "request_id": g.get("request_id"),
        "method": method,
        "path": route,
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3) if started else None,
        "key_id": g.get("key_id"),
    }
    fields.update(g.get("log_counts", {}))
    if response.status_code >= 400:
        fields["error_code"] = g.get("error_code")
    log.info("request", extra=fields)
    return response
