"""Upload slots behind nginx (`medspa-coverage serve`, two keys): nginx holds an upload's body in
memory until it is whole, with a per-read timeout only, so a client sending a byte every few
seconds holds its upload slot as long as it likes. Four keyless such clients once held every slot
(503 for every real upload for as long as they kept going). Now (service/upload_admission.py):

- an upload without a valid key is refused before its body is read, in the service's JSON, and
  holds no slot; so is one of another media type, or of a key past its failed-key throttle;
- one key's uploads hold that key's slots only: its third at once is the JSON 503 `uploads_busy`,
  another key's upload is still taken;
- an upload whose body pauses past nginx's body timeout is cut, and its slot is free again.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import time

import pytest

from service.proxy import FILE_UPLOADS_AT_ONCE, render_config, start_nginx, stop_nginx
from service.security_headers import SECURITY_HEADERS
from service.upload_admission import UNFINISHED_JOBS_PER_KEY
from tests.service.service_testing import (API_KEY, OTHER_KEY, example_claim, free_port, raw_exchange,
                                          start_production_server)

pytestmark = pytest.mark.slow

BODY_TIMEOUT_SECONDS = 10  # client_body_timeout, service/nginx/nginx.conf
FAILED_KEY_LIMIT = 3
CLAIMS_CSV = (",".join(example_claim()) + "\n" + ",".join(
    ";".join(value) if isinstance(value, list) else str(value) for value in example_claim().values()) + "\n").encode()
UPLOAD_HEAD = "POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"


@pytest.fixture(scope="module")
def server(model_store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    served = start_production_server(folder, {"TRACKING_URI": model_store.uri, "API_KEYS": f"{API_KEY},{OTHER_KEY}",
                                              "AUDIT_DATABASE_URL": f"sqlite:///{folder / 'audit.db'}",
                                              "FAILED_KEY_LIMIT": FAILED_KEY_LIMIT, "MODEL_POLL_SECONDS": 0})
    try:
        served.wait_ready(timeout=120)
        yield served
    finally:
        served.stop()


def _trickling_upload(port: int, key_header: str) -> socket.socket:
    """An upload whose head has arrived and whose body has barely begun (1,000 bytes announced)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.sendall(f"{UPLOAD_HEAD}{key_header}Content-Length: 1000\r\n\r\nclaim_id".encode())
    return connection


def _answer_of(connection: socket.socket) -> bytes:
    """What the server answered on this connection, read until it closes or is quiet for 5 s."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
    return length is not None and len(body) >= int(length.group(1))


def _parsed(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, json.loads(body) if body else {}


def _upload(port: int, key: str, body: bytes = CLAIMS_CSV) -> tuple[int, dict[str, str], dict]:
    """A whole upload; a job it made is deleted at once, so that the key's job limit stays free."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/v1/files", body=body, headers={"X-API-Key": key, "Content-Type": "text/csv"})
        response = connection.getresponse()
        answer = (response.status, {name.lower(): value for name, value in response.getheaders()},
                  json.loads(response.read()))
    finally:
        connection.close()
    if answer[0] == 202:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("DELETE", f"/v1/files/{answer[2]['job_id']}", headers={"X-API-Key": key})
        assert connection.getresponse().status == 204
        connection.close()
    return answer


def _has_security_headers(headers: dict[str, str]) -> bool:
    return all(headers.get(name.lower()) == value for name, value in SECURITY_HEADERS.items())


def test_uploads_without_a_valid_key_are_refused_before_their_body_and_hold_no_slot(server):
    """Before: each held a slot until its body ended, and the real upload got 503."""
    keys = ["", "", "X-API-Key: a1-wrong\r\n", "X-API-Key: b2-wrong\r\n", "Authorization: Bearer c3-wrong\r\n",
            "X-API-Key: d4-wrong\r\n"]
    assert len(keys) > FILE_UPLOADS_AT_ONCE
    held = [_trickling_upload(server.port, key) for key in keys]
    try:
        answers = [_parsed(_answer_of(connection)) for connection in held]  # their bodies are still owed
        taken = _upload(server.port, API_KEY)
    finally:
        for connection in held:
            connection.close()
    for status, headers, body in answers:
        assert (status, body["code"]) == (401, "unauthorized"), body
        assert headers["www-authenticate"].startswith("Bearer") and headers["content-type"] == "application/json"
        assert _has_security_headers(headers) and re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"]), headers
        assert "retry-after" not in headers
    assert taken[0] == 202, taken


@pytest.mark.parametrize("head, status, code, retry", [
    ("POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: " + API_KEY + "\r\n",
     415, "unsupported_media_type", False),
    (UPLOAD_HEAD + "X-API-Key: zz-guess\r\n", 429, "too_many_failed_keys", True),
], ids=["another media type", "past the failed-key throttle"])
def test_an_upload_the_app_refuses_is_refused_before_its_body_with_the_apps_answer(server, head, status, code, retry):
    answers = []
    for _ in range(2 * FAILED_KEY_LIMIT + 1):  # the throttle counts per worker: past it in both
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with connection:
            connection.sendall(f"{head}Content-Length: 1000\r\n\r\nclaim_id".encode())
            answers.append(_parsed(_answer_of(connection)))
        if answers[-1][0] == status:
            break
    answered, headers, body = answers[-1]
    assert (answered, body["code"]) == (status, code), answers
    assert _has_security_headers(headers) and ("retry-after" in headers) == retry, headers


def test_one_keys_uploads_hold_its_own_slots_only_and_a_pause_past_the_body_timeout_frees_them(server):
    """Before: a key's third upload at once was taken, and with a fourth every other key's got 503."""
    held = [_trickling_upload(server.port, f"X-API-Key: {API_KEY}\r\n") for _ in range(UNFINISHED_JOBS_PER_KEY)]
    try:
        time.sleep(0.5)  # nginx has admitted them and is reading their bodies
        busy = _upload(server.port, API_KEY)
        other = _upload(server.port, OTHER_KEY)
        paused_at = time.monotonic()
        time.sleep(BODY_TIMEOUT_SECONDS + 1.5)
        cut = [_answer_of(connection) for connection in held]
        freed = _upload(server.port, API_KEY)
    finally:
        for connection in held:
            connection.close()
    status, headers, body = busy
    assert (status, body["code"]) == (503, "uploads_busy") and headers["retry-after"] == "5", busy
    assert _has_security_headers(headers)
    assert f"{UNFINISHED_JOBS_PER_KEY} of one API key" in body["message"]
    assert other[0] == 202, other
    assert not any(answer.startswith(b"HTTP/1.1 2") for answer in cut), cut  # cut, never passed on
    assert freed[0] == 202, (freed, time.monotonic() - paused_at)


def test_the_admission_subrequest_repeats_every_header_the_server_sets(tmp_path):
    """A location's proxy_set_header replaces the server's list: a header the server passes and the
    admission lost (X-Forwarded-For) would count every client's failed keys as nginx's."""
    config = render_config("127.0.0.1:1", "127.0.0.1:2", tmp_path, 35, 2 ** 21)
    server_level = config[config.index("    server {"):config.index("        location ")]
    admission = re.search(r"location = /\.uploads/admission \{(.*?)\}", config, re.DOTALL).group(1)
    set_by_server = set(re.findall(r"proxy_set_header (\S+ \S+);", server_level))
    assert set_by_server and set_by_server <= set(re.findall(r"proxy_set_header (\S+ \S+);", admission))


def test_an_upload_while_the_app_cannot_be_asked_is_the_json_503(tmp_path):
    """auth_request answers its own 500 when the admission gets no answer: that was nginx's HTML 500."""
    listen = f"127.0.0.1:{free_port()}"
    nginx = start_nginx(listen, f"127.0.0.1:{free_port()}", tmp_path / "nginx", 35)  # nothing listens upstream
    try:
        status, headers, body = _parsed(raw_exchange(int(listen.rpartition(":")[2]), (
            f"{UPLOAD_HEAD}X-API-Key: {API_KEY}\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab").encode()))
    finally:
        stop_nginx(nginx)
    assert (status, body["code"]) == (503, "unavailable") and headers["retry-after"] == "5", body
    assert _has_security_headers(headers)
