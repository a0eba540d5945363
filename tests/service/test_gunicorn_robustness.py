"""Real gunicorn on loopback with the real model, under load from 32 keep-alive clients.

- a short load is answered without one error;
- SIGTERM mid-load: the requests being answered are answered; connections still waiting in the
  listen backlog are reset unread and new ones refused (no 5xx, no 503); the audit store holds
  exactly the requests whose client got its 200, so none was answered into the void;
- kill -9 of the master and every worker mid-load: after a restart the audit store opens cleanly
  and holds a row for every request that got a 200.

(test_gunicorn_model.py covers the champion swap under load and SIGTERM during one large batch.)
"""
from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass

import psutil
import pytest

from service.audit import AuditStore
from tests.service.service_testing import API_KEY, DROP, example_claim, start_gunicorn

CONCURRENCY = 32
# Enough that SIGTERM and kill -9 (after 300 answers) land mid-load with hundreds still to send;
# 3,000 only made each run longer (two loads a run) and showed nothing more.
LOAD_REQUESTS = 1_000
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
BODIES = [json.dumps(claim).encode() for claim in (
    example_claim(claim_id="botox"),
    example_claim(claim_id="no-pa", prior_authorization=False),
    example_claim(claim_id="facial", treatment="facial", procedure_code=DROP, diagnosis_codes=[]),
    example_claim(claim_id="filler", treatment="dermal_filler", procedure_code=DROP, diagnosis_codes=["L90.8"]),
)]
# No HTTP answer at all: the connection was refused, or reset before the server read the request.
NO_ANSWER_ERRORS = {"ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError"}

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no HTTP answer
    request_id: str | None
    error: str | None  # the exception's type when there was no answer
    finished: float  # time.monotonic()


def run_load(port: int, requests: int, outcomes: list | None = None,
             stop: threading.Event | None = None) -> list[Outcome]:
    """POST /v1/predict `requests` times from CONCURRENCY threads, one http.client connection each
    (kept alive; sync workers close it after each answer and http.client reopens it). Outcomes are
    appended to `outcomes` as they come; the load stops early when `stop` is set."""
    outcomes = [] if outcomes is None else outcomes
    stop = stop or threading.Event()
    numbers, lock = itertools.count(), threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for number in numbers:
                if number >= requests or stop.is_set():
                    return
                try:
                    connection.request("POST", "/v1/predict", body=BODIES[number % len(BODIES)], headers=HEADERS)
                    response = connection.getresponse()
                    body = response.read()
                    request_id = json.loads(body)["request_id"] if response.status == 200 else None
                    outcome = Outcome(response.status, request_id, None, time.monotonic())
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    outcome = Outcome(None, None, type(error).__name__, time.monotonic())
                with lock:
                    outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a load client hung"
    return outcomes


def _settings(model_store, folder) -> dict:
    return {"TRACKING_URI": model_store.uri, "API_KEYS": API_KEY, "AUDIT_DATABASE_URL": f"sqlite:///{folder / 'audit.db'}",
            "MODEL_POLL_SECONDS": 0,
            "RATE_LIMIT_PER_MINUTE": 0,  # one key sends thousands here; test_auth tests the limit
            "RATE_LIMIT_CLAIMS_PER_MINUTE": 0}


def _audited_request_ids(folder) -> list[str]:
    store = AuditStore(f"sqlite:///{folder / 'audit.db'}")
    try:
        return [record.request_id for record in store.read_since()]
    finally:
        store.close()


def test_a_short_load_gets_no_error_then_sigterm_mid_load_drains_cleanly(model_store, tmp_path, capsys):
    server = start_gunicorn(tmp_path, _settings(model_store, tmp_path))
    try:
        server.wait_ready()
        started = time.monotonic()
        steady = run_load(server.port, LOAD_REQUESTS)
        seconds = time.monotonic() - started
        assert len(steady) == LOAD_REQUESTS
        assert {outcome.status or outcome.error for outcome in steady} == {200}
        assert len({outcome.request_id for outcome in steady}) == LOAD_REQUESTS

        during: list[Outcome] = []
        load = threading.Thread(target=run_load, args=(server.port, LOAD_REQUESTS, during))
        load.start()
        _wait_for_answers(during, 300)
        terminated = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        load.join(timeout=60)
        assert server.process.wait(timeout=30) == 0
        with pytest.raises(ConnectionRefusedError):  # new connections: refused, not an HTTP error
            server.status("/healthz/live")
    finally:
        server.stop()

    answered = [outcome for outcome in during if outcome.status is not None]
    assert {outcome.status for outcome in answered} == {200}  # no 5xx, no 503: nothing was cut off
    assert any(outcome.finished > terminated for outcome in answered), "nothing was in flight at SIGTERM"
    unanswered = [outcome for outcome in during if outcome.status is None]
    assert unanswered and all(outcome.finished > terminated for outcome in unanswered)
    assert {outcome.error for outcome in unanswered} <= NO_ANSWER_ERRORS
    # every claim the workers answered reached its client: none was answered into the void
    assert sorted(_audited_request_ids(tmp_path)) == sorted(outcome.request_id for outcome in steady + answered)
    with capsys.disabled():  # the figures a reader of the run wants
        print(f"\ngunicorn: {len(steady)} requests at concurrency {CONCURRENCY}, 0 errors, "
              f"{len(steady) / seconds:,.0f} requests/s; SIGTERM mid-load: {len(answered)} answered 200, "
              f"{len(unanswered)} refused, 0 errors")


def test_after_kill_9_mid_load_the_audit_store_holds_every_answered_request(model_store, tmp_path, capsys):
    settings = _settings(model_store, tmp_path)
    server = start_gunicorn(tmp_path, settings)
    try:
        server.wait_ready()
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        outcomes: list[Outcome] = []
        stop = threading.Event()
        load = threading.Thread(target=run_load, args=(server.port, LOAD_REQUESTS, outcomes, stop))
        load.start()
        _wait_for_answers(outcomes, 300)
        for pid in [server.pid, *(worker.pid for worker in workers)]:  # the master first: it would respawn workers
            os.kill(pid, signal.SIGKILL)
        stop.set()
        load.join(timeout=60)
        assert server.process.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while not all(_dead(worker) for worker in workers):
            assert time.monotonic() < deadline, "a worker outlived kill -9"
            time.sleep(0.01)
    finally:
        server.stop()
    answered = {outcome.request_id for outcome in outcomes if outcome.status == 200}
    assert {outcome.status for outcome in outcomes if outcome.status is not None} == {200}
    assert len(answered) >= 300

    restarted = start_gunicorn(tmp_path, settings, log_name="restarted.log")
    try:
        restarted.wait_ready()  # each worker opened the store (create_app builds the AuditStore)
        after = run_load(restarted.port, 64)
        assert {outcome.status for outcome in after} == {200}
    finally:
        restarted.stop()
    with sqlite3.connect(tmp_path / "audit.db") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    audited = set(_audited_request_ids(tmp_path))
    assert answered <= audited, f"{len(answered - audited)} requests answered 200 have no audit row"
    assert {outcome.request_id for outcome in after} <= audited
    with capsys.disabled():  # the figure a reader of the run wants
        print(f"\nkill -9 mid-load: {len(answered)} answered 200, every one in the audit store after the restart; "
              f"committed but cut off before the answer left: {len(audited - answered) - len(after)}")


def _dead(process: psutil.Process) -> bool:
    """Gone, or a zombie (killed; an orphan's parent may be slow to reap it in a container)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_for_answers(outcomes: list[Outcome], count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(outcome.status == 200 for outcome in list(outcomes)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} answers in {timeout} s"
        time.sleep(0.01)
