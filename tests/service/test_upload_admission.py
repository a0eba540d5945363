"""The admission nginx asks for before it reads an upload's body (service/upload_admission.py), with
the real app: every answer a 204 (nginx's auth_request passes other statuses on as its own 500),
admitted ones naming the key id nginx counts slots by, refused ones carrying the status, the JSON
error and its headers that nginx answers with; no job made, no rate-limit token spent. Through
nginx: tests/service/test_proxy_uploads.py."""
from __future__ import annotations

import json

import pytest

from service.auth import hash_key
from service.file_jobs import EXTENSION
from service.upload_admission import (ADMISSION_HEADER, KEY_ID_HEADER, REFUSAL_BODY_HEADER, REFUSAL_STATUS_HEADER,
                                      UNFINISHED_JOBS_PER_KEY)
from tests.service.service_testing import API_KEY, OTHER_KEY
from tests.service.test_page import _page_token, _sign_in

CSV = {"Content-Type": "text/csv"}


def _admission(client, **headers):
    return client.post("/v1/files", headers={ADMISSION_HEADER: "check", **headers})


def _refusal(answer) -> tuple[int, dict]:
    assert answer.status_code == 204 and KEY_ID_HEADER not in answer.headers and not answer.get_data()
    return int(answer.headers[REFUSAL_STATUS_HEADER]), json.loads(answer.headers[REFUSAL_BODY_HEADER])


def test_an_admitted_upload_names_its_key_id_and_makes_no_job_nor_spends_the_rate_limit(make_app):
    app = make_app(RATE_LIMIT_PER_MINUTE=1)
    client = app.test_client()
    for _ in range(3):
        answer = _admission(client, **CSV, **{"X-API-Key": API_KEY})
        assert answer.status_code == 204 and REFUSAL_STATUS_HEADER not in answer.headers
        assert answer.headers[KEY_ID_HEADER] == hash_key(API_KEY)[:8]
    assert app.extensions[EXTENSION].job_ids() == []
    upload = client.post("/v1/files", data=b"claim_id\n", headers={**CSV, "X-API-Key": API_KEY})
    assert upload.status_code == 422  # the upload itself is rate-limited (its one request a minute): not 429


@pytest.mark.parametrize("headers, status, code, relayed", [
    ({**CSV}, 401, "unauthorized", "WWW-Authenticate"),
    ({**CSV, "X-API-Key": "wrong-key"}, 401, "unauthorized", "WWW-Authenticate"),
    ({"Content-Type": "application/json", "X-API-Key": API_KEY}, 415, "unsupported_media_type", None),
], ids=["no key", "a wrong key", "another media type"])
def test_a_refused_admission_carries_the_apps_status_error_and_headers(client, headers, status, code, relayed):
    answer = _admission(client, **headers)
    assert _refusal(answer)[0] == status and _refusal(answer)[1]["code"] == code
    assert relayed is None or relayed in answer.headers


def test_a_key_at_its_job_limit_is_refused_before_its_body_and_another_key_admitted(make_app, tmp_path):
    app = make_app(FILE_JOBS_DIR=str(tmp_path / "jobs"))
    client = app.test_client()
    for _ in range(UNFINISHED_JOBS_PER_KEY):  # uploads being received count, as queued ones do
        assert app.extensions[EXTENSION].reserve(hash_key(API_KEY)[:8], "csv", UNFINISHED_JOBS_PER_KEY)
    refused = _admission(client, **CSV, **{"X-API-Key": API_KEY})
    assert _refusal(refused)[0] == 429 and _refusal(refused)[1]["code"] == "too_many_file_jobs"
    assert refused.headers["Retry-After"] == "5"
    assert _admission(client, **CSV, **{"X-API-Key": OTHER_KEY}).headers[KEY_ID_HEADER] == hash_key(OTHER_KEY)[:8]


def test_a_page_session_is_admitted_with_its_csrf_token_only(client):
    _sign_in(client)
    status, body = _refusal(_admission(client, **CSV))
    assert (status, body["code"]) == (403, "csrf_failed")
    admitted = _admission(client, **CSV, **{"X-CSRFToken": _page_token(client)})
    assert admitted.headers[KEY_ID_HEADER] == hash_key(API_KEY)[:8]
