"""Every error is JSON in one shape: `{"code", "message", "errors": [{"field", "message"}]}`.

An error list holds at most MAX_LISTED_ERRORS entries and one that counts the rest. The body is
built on `e.get_response()`, so headers the HTTP error carries (`Allow` on 405,
`Retry-After` on 429, `WWW-Authenticate` on 401) survive. Messages are written here or by the
validators, never copied from the request: the request is patient data. A 500 names no internals.
"""
from __future__ import annotations

import json
import logging

from flask import Flask, current_app, g
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

MAX_LISTED_ERRORS = 100  # entries of an error list; one more entry counts those left out
MORE_ERRORS_FIELD = "(more errors)"

# status -> (code, message) used when the error carries none of its own
DEFAULTS = {
    400: ("bad_request", "the request could not be read"),
    401: ("unauthorized", "a valid API key is required: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"),
    403: ("forbidden", "this API key may not do this"),
    404: ("not_found", "no such endpoint; GET /openapi.json (when enabled) lists them"),
    405: ("method_not_allowed", "this endpoint does not accept this method; the Allow header lists those it does"),
    413: ("body_too_large", "the request body is too large"),
    415: ("unsupported_media_type", "the body must be JSON: Content-Type: application/json"),
    422: ("invalid_request", "the request is not valid"),
    429: ("rate_limited", "too many requests for this API key; retry after the Retry-After seconds"),
    500: ("internal_error", "internal error; the X-Request-ID response header identifies it in the service log"),
    503: ("unavailable", "the service cannot answer now; retry later"),
}


class APIError(HTTPException):
    """An HTTP error with the service's code, message, per-field errors and extra headers."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict] | None = None,
                 headers: dict | None = None):
        super().__init__(description=message)
        self.code = status
        self.error_code = code
        self.message = message
        self.errors = list(errors or [])
        self.extra_headers = dict(headers or {})

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), *self.extra_headers.items()]


def field_error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def body_too_large_message(limit: int) -> str:
    """The 413 message, the app's and nginx's alike (service.proxy)."""
    return f"the request body is larger than {limit:,} bytes"


def error_body(code: str, message: str, errors: list[dict] | None = None) -> dict:
    """The error shape; a list longer than MAX_LISTED_ERRORS keeps its first entries and one that
    counts the rest, so a 2 MiB body of bad rows cannot become a far larger answer."""
    errors = list(errors or [])
    if len(errors) > MAX_LISTED_ERRORS:
        omitted = len(errors) - MAX_LISTED_ERRORS
        errors = [*errors[:MAX_LISTED_ERRORS],
                  field_error(MORE_ERRORS_FIELD, f"{omitted:,} more errors are not listed; fix these and send again")]
    return {"code": code, "message": message, "errors": errors}


def _message_for(e: HTTPException) -> tuple[str, str]:
    if isinstance(e, APIError):
        return e.error_code, e.message
    code, message = DEFAULTS.get(e.code or 500, ("http_error", "the request failed"))
    if e.code == 413:
        message = body_too_large_message(current_app.config["MAX_CONTENT_LENGTH"])
    return code, message


def handle_http_error(e: HTTPException):
    response = e.get_response()
    code, message = _message_for(e)
    g.error_code = code
    response.set_data(json.dumps(error_body(code, message, getattr(e, "errors", None))))
    response.mimetype = "application/json"
    return response


def handle_unexpected_error(e: Exception):
    # The formatter in service.logging writes the exception type and stack, never its message.
    log.error("unhandled exception", exc_info=e)
    return handle_http_error(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
