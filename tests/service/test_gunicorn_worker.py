"""The service's gunicorn worker (service/gunicorn_worker.py): requests gunicorn cannot parse get the
service's JSON error, and neither the answer nor any log line quotes what the client sent."""
from __future__ import annotations

import json
import signal
import socket
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.http import errors as http_errors

from service.gunicorn_worker import QuietSyncWorker, answer_for
from tests.service.service_testing import API_KEY, SENTINEL, example_claim, raw_exchange, start_gunicorn

HOST = "Host: 127.0.0.1\r\n"
# (label, raw request with the sentinel where gunicorn would quote it, status, code)
UNPARSABLE = [
    ("bad request line", f"{SENTINEL} /v1/{SENTINEL}\r\n{HOST}\r\n", 400, "bad_http_request"),
    ("bad version", f"GET /v1/{SENTINEL} HTTP/1.1 extra\r\n{HOST}\r\n", 400, "bad_http_request"),
    ("bad method", f"G{SENTINEL}T /healthz/live HTTP/1.1\r\n{HOST}\r\n".replace("-", "("), 400, "bad_http_request"),
    ("unknown version", f"GET /healthz/live HTTP/{SENTINEL}\r\n{HOST}\r\n", 400, "bad_http_request"),
    ("bad header name", f"GET /healthz/live HTTP/1.1\r\n{HOST}{SENTINEL}(x): 1\r\n\r\n", 400, "bad_http_request"),
    ("bad header value", f"GET /healthz/live HTTP/1.1\r\n{HOST}X-Note: {SENTINEL}\x00\r\n\r\n", 400,
     "bad_http_request"),
    ("request line over the limit", f"GET /v1/{SENTINEL}{'a' * 5000} HTTP/1.1\r\n{HOST}\r\n", 400,
     "request_line_too_long"),
    ("too many headers", f"GET /healthz/live HTTP/1.1\r\n{HOST}"
     + "".join(f"X-{SENTINEL}-{n}: {SENTINEL}\r\n" for n in range(60)) + "\r\n", 431, "headers_too_large"),
    ("unknown transfer coding", f"POST /v1/predict HTTP/1.1\r\n{HOST}Transfer-Encoding: {SENTINEL}\r\n\r\n", 501,
     "unsupported_transfer_coding"),
]


@pytest.fixture(scope="module")
def server(model_store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("unparsable")
    server = start_gunicorn(folder, {"TRACKING_URI": model_store.uri, "API_KEYS": API_KEY,
                                     "AUDIT_DATABASE_URL": f"sqlite:///{folder / 'audit.db'}",
                                     "MODEL_POLL_SECONDS": 0}, 1, "--access-logfile", "-")
    server.wait_ready()
    yield server
    server.stop()


def _exchange(port: int, raw: str) -> tuple[int, dict[str, str], str]:
    """Send raw bytes, read the answer until the server closes: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(raw.encode("latin-1"))
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.decode("latin-1").partition("\r\n\r\n")
    status_line, *header_lines = head.split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.slow
@pytest.mark.parametrize("label, raw, status, code", UNPARSABLE, ids=[u[0] for u in UNPARSABLE])
def test_an_unparsable_request_gets_a_json_error_that_quotes_nothing(server, label, raw, status, code):
    answered, headers, body = _exchange(server.port, raw)
    assert (answered, headers["content-type"]) == (status, "application/json")
    assert int(headers["content-length"]) == len(body.encode("latin-1"))
    error = json.loads(body)
    assert error["code"] == code and error["message"] and error["errors"] == []
    assert SENTINEL not in body
    if code in ("headers_too_large", "request_line_too_long"):  # the limits of service/gunicorn_conf.py
        assert "at most 4,094 bytes and at most 50 headers of 8,190 bytes" in error["message"]


def _post_raw(port: int, head: str, body: bytes, half_close: bool = False) -> tuple[int, dict]:
    received = raw_exchange(port, head.encode("latin-1") + body, half_close)
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


POST_HEAD = f"POST /v1/predict HTTP/1.1\r\n{HOST}Content-Type: application/json\r\nX-API-Key: {API_KEY}\r\n"
LIMIT = 2 * 1024 * 1024  # MAX_CONTENT_LENGTH's default


@pytest.mark.slow
def test_gunicorn_alone_refuses_a_chunked_body_over_the_limit_with_413(server):
    claim = json.dumps(example_claim()).encode()
    padded = claim[:-1] + b" " * (LIMIT + 10 - len(claim)) + b"}"  # valid JSON, just too long
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(padded[i:i + 65536]), padded[i:i + 65536])
                      for i in range(0, len(padded), 65536)) + b"0\r\n\r\n"
    status, body = _post_raw(server.port, POST_HEAD + "Transfer-Encoding: chunked\r\n\r\n", chunks)
    assert (status, body["code"]) == (413, "body_too_large")  # not cut at the limit and answered 200
    small = b"%x\r\n%s\r\n0\r\n\r\n" % (len(claim), claim)
    assert _post_raw(server.port, POST_HEAD + "Transfer-Encoding: chunked\r\n\r\n", small)[0] == 200


@pytest.mark.slow
def test_gunicorn_alone_refuses_a_body_shorter_than_its_content_length_with_400(server):
    claim = json.dumps(example_claim()).encode()
    status, body = _post_raw(server.port, POST_HEAD + f"Content-Length: {len(claim) + 50}\r\n\r\n", claim,
                             half_close=True)
    assert (status, body["code"]) == (400, "incomplete_body")


@pytest.mark.slow
def test_the_server_log_names_the_error_type_and_quotes_nothing(server):
    for _, raw, _, _ in UNPARSABLE:
        _exchange(server.port, raw)
    assert server.status("/healthz/live") == 200  # the worker is still serving
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    log = server.log()
    assert "request gunicorn could not parse: InvalidRequestLine, answered 400" in log
    assert "LimitRequestHeaders, answered 431" in log
    assert SENTINEL not in log


class RecordingLog:
    def __init__(self):
        self.lines = []

    def __getattr__(self, level):
        return lambda message, *args: self.lines.append((level, message % args if args else message))


@pytest.mark.parametrize("exc, status", [
    (http_errors.InvalidRequestLine(SENTINEL), 400),
    (http_errors.InvalidHeaderName(SENTINEL), 400),
    (http_errors.LimitRequestHeaders(SENTINEL), 431),
    (http_errors.ForbiddenProxyRequest(SENTINEL), 403),
    (http_errors.ConfigurationProblem(SENTINEL), 500),
    (RuntimeError(SENTINEL), 500),
])
def test_errors_outside_the_app_are_answered_in_json_and_logged_by_type_only(exc, status):
    """The worker's handler on a real socket pair, for errors a live server cannot be made to raise."""
    log = RecordingLog()
    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        try:
            raise exc  # a traceback, as gunicorn's handler gets it
        except Exception as raised:
            QuietSyncWorker.handle_error(SimpleNamespace(log=log, cfg=Config()), None, server_end, ("", -1), raised)
        server_end.shutdown(socket.SHUT_WR)
        answer = client_end.recv(65536).decode()
    assert answer.startswith(f"HTTP/1.1 {status} ") and "Content-Type: application/json" in answer
    assert json.loads(answer.partition("\r\n\r\n")[2])["code"] == answer_for(exc)[2]
    assert log.lines and all(type(exc).__name__ in text for _, text in log.lines)
    assert SENTINEL not in answer and not any(SENTINEL in text for _, text in log.lines)
