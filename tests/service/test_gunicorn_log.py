"""gunicorn's log tells a timed-out worker's end as a timeout (service/gunicorn_log.py), never as
"Perhaps out of memory?": the lines gunicorn's master writes, fed to the logger, and a real worker
held by a trickling client past a short timeout."""
from __future__ import annotations

import signal
import socket
import time

import pytest
from gunicorn.config import Config

from service.gunicorn_log import TimeoutAwareLogger
from tests.service.service_testing import API_KEY, start_gunicorn

TIMEOUT = 8  # long enough for a worker without a model to boot on a busy machine


def _logger(tmp_path) -> tuple[TimeoutAwareLogger, object]:
    config = Config()
    log_file = tmp_path / "error.log"
    config.set("errorlog", str(log_file))
    config.set("timeout", 30)
    return TimeoutAwareLogger(config), log_file


def test_a_worker_killed_after_its_timeout_is_not_blamed_on_memory(tmp_path):
    log, log_file = _logger(tmp_path)
    log.critical("WORKER TIMEOUT (pid:%s)", 41)  # what Arbiter.murder_workers and reap_workers write
    log.error("Worker (pid:%s) was sent %s! Perhaps out of memory?", 41, "SIGKILL")
    log.error("Worker (pid:%s) was sent %s! Perhaps out of memory?", 42, "SIGKILL")  # no timeout: gunicorn's words
    text = log_file.read_text()
    assert "WORKER TIMEOUT (pid:41): silent for more than the 30 s timeout" in text
    assert "Worker (pid:41) was sent SIGKILL! (after its timeout, not for lack of memory)" in text
    assert "Worker (pid:42) was sent SIGKILL! Perhaps out of memory?" in text
    assert text.count("Perhaps out of memory?") == 1


@pytest.mark.slow
def test_a_client_holding_a_lone_gunicorn_worker_past_the_timeout_is_logged_as_a_timeout(tmp_path):
    """gunicorn alone (`serve --no-proxy`): the trickle holds the sync worker until the master kills it."""
    server = start_gunicorn(tmp_path, {"MODEL_SOURCE": "bundle", "MODEL_BUNDLE_PATH": str(tmp_path / "none"),
                                       "API_KEYS": API_KEY,  # no model: the worker boots in seconds
                                       "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                                       "MODEL_POLL_SECONDS": 0}, 1, "--timeout", str(TIMEOUT))
    try:
        deadline = time.monotonic() + 60
        while True:  # no model: live, not ready
            try:
                if server.status("/healthz/live", timeout=2) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.process.poll() is None, server.log()[-2000:]
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as held:
            held.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")
            deadline = time.monotonic() + TIMEOUT + 20
            while "WORKER TIMEOUT" not in server.log() or "Worker (pid:" not in server.log().split(
                    "WORKER TIMEOUT")[-1]:
                assert time.monotonic() < deadline, server.log()[-3000:]
                try:
                    held.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
                time.sleep(0.5)
            held.settimeout(5)
            answer = held.recv(65536)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
    finally:
        server.stop()
    assert answer.startswith(b"HTTP/1.1 503 ") and b'"worker_timeout"' in answer  # the held client is told
    log = server.log()
    assert f"silent for more than the {TIMEOUT} s timeout" in log
    assert f"worker stopped mid-request by the master's {TIMEOUT} s timeout; answered 503" in log
    assert "error outside the app" not in log  # not a 500 with a stack
    assert "Perhaps out of memory?" not in log
    assert "(after its timeout, not for lack of memory)" in log
