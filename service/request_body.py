"""The request body, read whole by the service rather than by werkzeug (see `read_body`), and as
JSON with every way it can be malformed answered in the service's error shape: /v1/predict and
/invocations (service.api) read JSON bodies; POST /v1/files (service.files) streams its body to a
file through `copy_body`."""
from __future__ import annotations

import json
from typing import Callable

from flask import current_app
from flask import request as flask_request
from werkzeug.exceptions import RequestEntityTooLarge

from service.errors import APIError


def read_json_body():
    """The body as JSON: 415 unless declared JSON, 413 when too large (with or without a
    Content-Length), 400 when shorter than its Content-Length, not valid JSON, or naming a key twice."""
    if not flask_request.is_json:
        raise APIError(415, "unsupported_media_type", "the body must be JSON: Content-Type: application/json")
    data = read_body()
    try:
        return json.loads(data, parse_constant=_reject_constant, object_pairs_hook=_object_without_repeats)
    except DuplicateKeyError:
        raise APIError(400, "duplicate_key", "an object in the body names the same key twice (which value was meant "
                                             "is unclear): each key may appear once per object") from None
    except (ValueError, RecursionError):
        raise APIError(400, "malformed_json", "the body is not valid JSON (NaN and Infinity are not JSON)") from None


def read_body() -> bytes:
    """The whole request body, read here rather than by werkzeug: werkzeug cuts a chunked body at
    MAX_CONTENT_LENGTH and answers with what it read, and accepts a body that ends before its
    Content-Length (gunicorn hands over what arrived before the client closed)."""
    parts: list[bytes] = []
    copy_body(parts.append, current_app.config["MAX_CONTENT_LENGTH"], RequestEntityTooLarge)
    return b"".join(parts)


def copy_body(write: Callable[[bytes], object], limit: int, too_large: Callable[[], Exception]) -> int:
    """Hand the request body to `write` a block at a time; return its length. `too_large()` is
    raised when the body is over `limit` bytes (before reading, when its Content-Length says so),
    400 when it ends before its Content-Length; no length and a stream the server does not end
    is no body (werkzeug's safe fallback)."""
    declared = flask_request.content_length
    if declared is not None and declared > limit:
        raise too_large()
    environ = flask_request.environ
    if declared is None and not environ.get("wsgi.input_terminated"):
        return 0
    stream, remaining, received = environ["wsgi.input"], limit + 1 if declared is None else declared, 0
    while remaining > 0:
        part = stream.read(min(remaining, 1 << 16))
        if not part:
            break
        received += len(part)
        if received > limit:
            raise too_large()
        write(part)
        remaining -= len(part)
    if declared is not None and received < declared:
        raise APIError(400, "incomplete_body", f"the body ended after {received:,} of the {declared:,} bytes its "
                                               "Content-Length announced")
    return received


class DuplicateKeyError(ValueError):
    """A JSON object named a key twice."""


def _object_without_repeats(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise DuplicateKeyError()
    return result


def _reject_constant(name: str):
    raise ValueError("NaN and Infinity are not JSON")
