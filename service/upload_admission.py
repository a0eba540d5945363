"""Upload admission: nginx asks the app whether it would take a claims file before it reads the body.

nginx holds an upload slot (and up to FILE_MAX_BYTES of memory) for every claims file whose body
is still arriving, and its only body timeout is per read: four keyless clients trickling a byte
every 6 s once held every slot for as long as they liked (503 for every real upload). So nginx's
upload route first sends the request's headers alone to POST /v1/files, marked with
ADMISSION_HEADER (its `auth_request`, service/nginx/nginx.conf), and reads the body only when the
app admits it: a key (or a signed-in page session with its CSRF token), a claims file's media type,
and room under the key's job limit. The upload slots are then counted per key id, which the
admission hands back, so a key's trickling uploads hold that key's slots only.

nginx's auth_request passes a refusal's body on only for 401 and 403 (any other status becomes its
own 500), so every admission answer is a 204: an admitted one names the key id, a refused one
carries the app's status and JSON error in headers, which nginx answers with (with the error's
Retry-After and WWW-Authenticate). A client sending the marker itself gets the same 204 and
uploads nothing: it learns only what its own key may do.
"""
from __future__ import annotations

import json

from flask import Response, g, request

from service.errors import DEFAULTS, error_body

ADMISSION_HEADER = "X-Upload-Admission"  # "check": nginx's admission request (headers only, no body)
KEY_ID_HEADER = "X-Upload-Key-Id"  # admitted: nginx counts upload slots per this key id
REFUSAL_STATUS_HEADER = "X-Upload-Refusal-Status"  # refused: the status nginx answers with
REFUSAL_BODY_HEADER = "X-Upload-Refusal-Body"  # and the JSON error body (ASCII, one line)
# The headers of a refusal nginx passes on with it (and X-Request-ID, which every answer carries).
RELAYED_HEADERS = ("Retry-After", "WWW-Authenticate")
# Every status an admission can refuse with (the key check, the CSRF check, the media type, the job
# limit or the failed-key throttle, the audit store, an internal error); nginx has an answer for each.
REFUSAL_STATUSES = (401, 403, 415, 429, 500, 503)
# A key may have this many files queued or being scored at once: a 429 beyond it keeps one key
# from filling the queue (and the disk) that every key's files wait in. nginx receives as many
# uploads of one key at once, no more (more could only be refused once their bodies had arrived).
UNFINISHED_JOBS_PER_KEY = 2


def is_admission() -> bool:
    return request.headers.get(ADMISSION_HEADER) == "check"


def admission_answer(response: Response) -> Response:
    """after_request of /v1/files: an admission's answer as nginx reads it (a 204 with headers);
    any other answer as it is."""
    if not is_admission():
        return response
    answer = Response(status=204)
    if response.status_code < 400:
        answer.headers[KEY_ID_HEADER] = g.key_id
        return answer
    if response.status_code in REFUSAL_STATUSES:
        status, body = response.status_code, json.loads(response.get_data())
    else:  # nginx has no answer of this status: an internal error rather than a body read unadmitted
        status, body = 500, error_body(*DEFAULTS[500])
    answer.headers[REFUSAL_STATUS_HEADER] = str(status)
    # json.dumps escapes every non-ASCII character: the body fits in a header line as it is.
    answer.headers[REFUSAL_BODY_HEADER] = json.dumps(body)
    for name in RELAYED_HEADERS:
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    return answer
