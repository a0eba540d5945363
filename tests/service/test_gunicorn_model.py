"""Real gunicorn on loopback with the real model: ready after the load, hundreds of answers without
an error, a hot swap of the champion alias under load (zero failed requests, later answers from
the new version), and SIGTERM letting the request in flight finish before a clean exit."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.service.service_testing import API_KEY, example_claim

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = [example_claim(claim_id="botox"), example_claim(claim_id="no-pa", prior_authorization=False),
          example_claim(claim_id="facial", treatment="facial", procedure_code=None, diagnosis_codes=[])]
CLAIMS = [{key: value for key, value in claim.items() if value is not None} for claim in CLAIMS]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, payload=None, timeout: float = 30) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEY}",
                                                   "Content-Type": "application/json"},
                                     data=None if payload is None else json.dumps(payload).encode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.mark.slow
def test_gunicorn_serves_the_model_swaps_it_under_load_and_drains_on_sigterm(model_store, tmp_path):
    store = model_store.copy_to(tmp_path / "store")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MEDSPA_COVERAGE_") and name != "MLFLOW_TRACKING_URI"}
    env.update(MEDSPA_COVERAGE_TRACKING_URI=store.uri, MEDSPA_COVERAGE_API_KEYS=API_KEY,
               MEDSPA_COVERAGE_AUDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'audit.db'}",
               MEDSPA_COVERAGE_MODEL_POLL_SECONDS="1")
    log_path = tmp_path / "gunicorn.log"  # a file, not a pipe: a full pipe would block the workers' logging
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "service" / "gunicorn_conf.py"),
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "service.wsgi:app"],
            cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _call(f"{base}/healthz/ready", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.1)

        failures, versions, lock = [], [], threading.Lock()

        def predict(number: int) -> None:
            status, body = _call(f"{base}/v1/predict", CLAIMS[number % len(CLAIMS)])
            with lock:
                if status == 200:
                    versions.append(body["model"]["version"])
                else:
                    failures.append(status)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(predict, range(150)))
            assert not failures and set(versions) == {store.champion_version}

            store.move_champion(store.other_version)  # the workers poll every second
            deadline, sent = time.monotonic() + 20, 150
            while versions[-20:] != [store.other_version] * 20:
                assert time.monotonic() < deadline and sent < 2_000, "the workers did not swap the model in"
                list(pool.map(predict, range(sent, sent + 20)))
                sent += 20
        assert failures == [], failures
        assert versions[0] == store.champion_version and versions[-1] == store.other_version
        assert len(versions) >= 200

        # SIGTERM while a large batch is being answered: it finishes, then gunicorn exits 0
        in_flight = {}
        batch = threading.Thread(target=lambda: in_flight.update(
            result=_call(f"{base}/v1/predict", {"claims": CLAIMS * 333})))
        batch.start()
        time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        batch.join(timeout=30)
        status, body = in_flight["result"]
        assert status == 200 and body["answered"] == len(CLAIMS) * 333
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    log = log_path.read_text()
    assert "Shutting down" in log
    assert '"model_version": "%s"' % store.other_version in log  # the swap is in the JSON log
