"""The production shape (`medspa-coverage serve`: nginx in front of gunicorn's sync workers) with the
real model, started once for this module:

- 200 connections without a key, half idle and half sending a header line now and then, held open
  while other clients check health and ask for predictions: every one of those is answered;
- nginx's own refusals are the service's JSON errors: a body over MAX_CONTENT_LENGTH, sent with a
  Content-Length or chunked, is a 413; a request line or headers nginx cannot read are 414 or 400;
  a body shorter than its Content-Length never reaches the app;
- the config nginx runs is the repository's, filled in with the service's limit;
- stopping gunicorn stops nginx.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import stat
import threading
import time

import psutil
import pytest

from service.proxy import render_config
from service.security_headers import SECURITY_HEADERS
from service.settings import default_settings
from tests.service.service_testing import API_KEY, example_claim, raw_exchange, start_production_server

pytestmark = pytest.mark.slow

HELD_IDLE = 100
HELD_TRICKLING = 100
HOLD_SECONDS = 5
ANSWER_TIMEOUT = 5  # generous: an answer normally takes milliseconds; a held worker would take 30 s
MAX_BODY = default_settings()["MAX_CONTENT_LENGTH"]
MAX_FILE = default_settings()["FILE_MAX_BYTES"]
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(model_store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("production")
    served = start_production_server(folder, {"TRACKING_URI": model_store.uri, "API_KEYS": API_KEY,
                                              "AUDIT_DATABASE_URL": f"sqlite:///{folder / 'audit.db'}",
                                              "MODEL_POLL_SECONDS": 0})
    try:
        served.wait_ready(timeout=120)
        pid_file = folder / "nginx" / "nginx.pid"
        served.nginx_pid = int(pid_file.read_text())
        yield served
    finally:
        served.stop()
    assert not psutil.pid_exists(served.nginx_pid) or psutil.Process(served.nginx_pid).status() == "zombie", \
        "nginx outlived the gunicorn master that started it"


def _answer(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=HEADERS)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def test_idle_and_trickling_clients_without_a_key_do_not_stop_health_checks_or_predictions(server):
    held, stop = [], threading.Event()
    for number in range(HELD_IDLE + HELD_TRICKLING):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_TIMEOUT)
        if number >= HELD_IDLE:  # a request that never ends: its line now, a header now and then
            sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")
        held.append(sock)

    def trickle():
        while not stop.wait(0.5):
            for sock in held[HELD_IDLE:]:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    outcomes = []
    try:
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline:
            started = time.monotonic()
            live = _answer(server.port, "GET", "/healthz/live")
            predicted = _answer(server.port, "POST", "/v1/predict", json.dumps(example_claim()).encode())
            outcomes.append((live[0], predicted[0], "approval_probability" in predicted[1],
                             time.monotonic() - started))
    finally:
        stop.set()
        trickler.join(timeout=5)
        still_open = 0
        for sock in held:
            try:
                sock.setblocking(False)
                still_open += sock.recv(1) == b""  # b"": closed by nginx; BlockingIOError: still open
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
            sock.close()
    print(f"\nslow clients held: {len(held)}; answered: {len(outcomes)} health checks and {len(outcomes)} "
          f"predictions, the slowest pair in {max(took for *_, took in outcomes) * 1000:.0f} ms")
    assert len(outcomes) >= 5, outcomes
    assert all(live == 200 and predicted == 200 and probability for live, predicted, probability, _ in outcomes), \
        outcomes
    assert still_open >= HELD_IDLE, "the slow connections were dropped early: the test proved nothing"


def test_a_body_over_the_limit_is_refused_with_the_service_json_whether_or_not_its_length_is_sent(server):
    with_length = raw_exchange(server.port, (
        f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\n"
        f"Content-Length: {MAX_BODY + 1}\r\n\r\n").encode() + b" " * (MAX_BODY + 1))
    chunk = b" " * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // len(chunk) + 1))
    chunked = raw_exchange(server.port, (
        f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n")
    for raw in (with_length, chunked):
        status, body = _status_and_body(raw)
        assert status == 413 and body["code"] == "body_too_large", raw[:300]
        assert f"{MAX_BODY:,} bytes" in body["message"]


def test_a_claims_file_past_the_api_body_limit_is_scored_through_nginx_and_one_past_its_own_limit_refused(server):
    """POST /v1/files has nginx limits of its own (FILE_MAX_BYTES, not MAX_CONTENT_LENGTH)."""
    claim = {**example_claim(), "diagnosis_codes": ";".join(example_claim()["diagnosis_codes"])}
    note = "x" * 8192  # an extra column: ignored, and never passed on to the scored file
    rows = MAX_BODY // len(note) + 20  # past MAX_CONTENT_LENGTH, in cells a CSV reader takes (< its 1 MiB blocks)
    line = ",".join([*map(str, claim.values()), note]) + "\n"
    body = (",".join([*claim, "note"]) + "\n" + line * rows).encode()
    assert len(body) > MAX_BODY
    headers = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/v1/files", body=body, headers=headers)
    uploaded = connection.getresponse()
    job = json.loads(uploaded.read())
    connection.close()
    assert uploaded.status == 202, job
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = _answer(server.port, "GET", f"/v1/files/{job['job_id']}")[1]
    assert job["status"] == "done" and job["summary"]["answered"] == rows, job
    over = raw_exchange(server.port, (
        f"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nX-API-Key: {API_KEY}\r\n"
        f"Content-Length: {MAX_FILE + 1}\r\n\r\n").encode())  # refused on its length, before a byte of it
    status, refused = _status_and_body(over)
    assert status == 413 and refused["code"] == "file_too_large" and f"{MAX_FILE:,} bytes" in refused["message"]


@pytest.mark.parametrize("raw, status, code", [
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 400, "bad_http_request"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "bad_http_request"),
    (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported_transfer_coding"),
    (b"GET /.errors/413 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "not_found"),
], ids=["request line too long", "header too large", "bad header", "unknown transfer coding", "nginx's own page"])
def test_what_nginx_refuses_itself_is_answered_in_the_service_json(server, raw, status, code):
    answered, body = _status_and_body(raw_exchange(server.port, raw))
    assert (answered, body["code"]) == (status, code)


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head)}


UPLOAD_HEAD = "POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"


@pytest.mark.parametrize("raw, status, code", [
    (b"TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "method_not_allowed"),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
    ((UPLOAD_HEAD + f"X-API-Key: {API_KEY}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n").encode(), 400,
     "bad_http_request"),
    ((UPLOAD_HEAD + f"Content-Length: {MAX_FILE + 1}\r\n\r\n").encode(), 413, "file_too_large"),
], ids=["TRACE", "HTTP/2.0 request line", "a bad chunk size in an upload", "an upload over its limit"])
def test_every_nginx_refusal_is_the_service_json_with_the_security_headers(server, raw, status, code):
    """An error_page of the upload route once replaced the server's list there: its refusals were nginx's HTML."""
    answer = raw_exchange(server.port, raw)
    assert _status_and_body(answer)[0] == status and _status_and_body(answer)[1]["code"] == code
    headers = _headers(answer)
    assert all(headers.get(name.lower()) == value for name, value in SECURITY_HEADERS.items()), headers
    if status == 405:
        assert headers["allow"] == "GET, HEAD, POST, DELETE"


def test_a_chunked_upload_past_its_limit_is_the_service_json_413(server):
    """Answering discards the rest of the body, which failed again on the limit: nginx's HTML came."""
    block = b"%x\r\n" % (1 << 20) + b"7" * (1 << 20) + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall((UPLOAD_HEAD + f"X-API-Key: {API_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
        try:
            for _ in range(MAX_FILE // (1 << 20) + 2):  # 18 MiB, past the 16 MiB limit
                connection.sendall(block)
        except OSError:  # nginx may stop reading once it has answered
            pass
        answer = b""
        try:
            while part := connection.recv(65536):
                answer += part
        except OSError:
            pass
    status, body = _status_and_body(answer)
    assert status == 413 and body["code"] == "file_too_large"
    assert _headers(answer)["x-content-type-options"] == "nosniff"


def test_a_body_shorter_than_its_content_length_never_reaches_the_app(server):
    claim = json.dumps(example_claim()).encode()
    raw = raw_exchange(server.port, (
        f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: {API_KEY}\r\n"
        f"Content-Length: {len(claim) + 100}\r\n\r\n").encode() + claim, half_close=True)
    assert not raw.startswith(b"HTTP/1.1 200"), raw[:300]


def test_gunicorn_listens_only_on_a_unix_socket_in_a_private_folder(server):
    """Anyone on the host could reach a loopback port and send an X-Forwarded-For of their choosing
    (100 wrong keys, 100 401s, no 429): behind nginx there is no such port."""
    master = psutil.Process(server.pid)
    gunicorn = [master, *(child for child in master.children() if child.pid != server.nginx_pid)]
    listening = [connection for process in gunicorn for connection in process.net_connections(kind="inet")
                 if connection.status == psutil.CONN_LISTEN]
    assert listening == []
    socket_file = server.log_path.parent / "nginx" / "gunicorn.sock"
    assert socket_file.is_socket() and stat.S_IMODE(socket_file.parent.stat().st_mode) == 0o700
    assert f"server unix:{socket_file};" in (socket_file.parent / "nginx.conf").read_text()


def test_nginx_runs_the_repository_config_with_the_service_limit(server, tmp_path):
    running = (server.log_path.parent / "nginx" / "nginx.conf").read_text()
    assert f"client_max_body_size {MAX_BODY};" in running
    assert "client_header_timeout 10s;" in running and "access_log off;" in running
    assert not re.search(r"@[A-Z_]+@", render_config("127.0.0.1:1", "127.0.0.1:2", tmp_path, 35, MAX_BODY))
