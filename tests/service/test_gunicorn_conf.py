"""The repo's gunicorn config (service/gunicorn_conf.py): it boots the app on loopback with docs off,
answers health checks and stops on SIGTERM; its limits, timeouts and access-log format; and its
worker hooks (drain on SIGINT, stop the background jobs on exit, one native thread per worker)."""
from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace

import pytest

from tests.service.service_testing import API_KEY, GUNICORN_CONF, body_of, free_port, start_gunicorn


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_gunicorn_serves_health_and_shuts_down_on_sigterm(tmp_path):
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MEDSPA_COVERAGE_")}
    env.update(MEDSPA_COVERAGE_AUDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'audit.db'}",
               MEDSPA_COVERAGE_API_KEYS="smoke-key", MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "service.wsgi:app"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/healthz/live") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        assert _get(f"{base}/healthz/ready") == 503  # no model yet
        assert _get(f"{base}/docs") == 404  # production: docs off
        assert _get(f"{base}/openapi.json") == 404
        assert _get(f"{base}/v1/treatments") == 401
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    log = server.stdout.read().decode()
    assert "Shutting down" in log


def test_the_gunicorn_config_turns_docs_off_limits_requests_and_logs_no_url(tmp_path):
    """The config as gunicorn reads it, in a child process (it sets environment variables)."""
    names = ["timeout", "graceful_timeout", "limit_request_line", "limit_request_fields", "limit_request_field_size",
             "accesslog", "access_log_format", "bind", "preload_app"]
    script = (f"import json, os, runpy; c = runpy.run_path({str(GUNICORN_CONF)!r}); "
              f"print(json.dumps({{**{{n: c[n] for n in {names!r}}}, "
              "'docs': os.environ['MEDSPA_COVERAGE_DOCS_ENABLED']}))")
    env = {name: value for name, value in os.environ.items() if not name.startswith("MEDSPA_COVERAGE_")}
    config = json.loads(subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, check=True,
                                       capture_output=True, text=True).stdout)
    assert config["docs"] == "false"  # /docs and /openapi.json 404 (the live server above shows it)
    assert config["bind"] == ["127.0.0.1:8000"]  # loopback unless told otherwise
    assert (config["timeout"], config["graceful_timeout"]) == (30, 20)  # a silent worker is killed after 30 s
    assert (config["limit_request_line"], config["limit_request_fields"], config["limit_request_field_size"]) == (
        4094, 50, 8190)
    assert config["accesslog"] is None
    for atom in ("%(r)s", "%(U)s", "%(q)s", "%(f)s", "%(a)s", "}i)s", "}e)s"):  # URL, referer, agent, headers
        assert atom not in config["access_log_format"], atom


@pytest.fixture
def hooks(monkeypatch) -> dict:
    """The config's names, read in this process with an environment of its own: the config sets variables."""
    monkeypatch.setattr(os, "environ", dict(os.environ))
    return runpy.run_path(str(GUNICORN_CONF))


def test_the_config_pins_native_thread_pools_to_one_thread_in_master_and_workers(hooks):
    for name in hooks["NATIVE_THREADS_ENV"]:
        assert os.environ[name] == "1", name
        os.environ[name] = "8"  # as a library or the shell might leave it before the fork
    hooks["post_fork"](None, None)
    assert all(os.environ[name] == "1" for name in hooks["NATIVE_THREADS_ENV"])


def test_sigint_to_a_worker_starts_draining(hooks, served_app):
    hooks["worker_int"](SimpleNamespace(wsgi=served_app))
    response = served_app.test_client().get("/healthz/ready")
    assert response.status_code == 503 and body_of(response)["code"] == "draining"
    hooks["worker_int"](SimpleNamespace(wsgi=None))  # a worker that never built its app: nothing to drain


def test_worker_exit_stops_the_workers_background_jobs(hooks, app):
    from service.background import start_job

    job = start_job(app, "tick", 60, lambda: None)
    assert job.alive
    hooks["worker_exit"](None, SimpleNamespace(wsgi=app))
    assert not job.alive
    hooks["worker_exit"](None, SimpleNamespace(wsgi=None))


@pytest.mark.slow
def test_a_page_session_signed_by_one_worker_is_read_by_every_worker(model_store, tmp_path):
    """The config draws one SESSION_SECRET in the master, before the fork: a sign-in on one worker
    holds on all. Twenty requests on new connections, spread by the kernel over two workers; with a
    secret per worker about half of them would get 401."""
    import http.cookiejar
    import re

    server = start_gunicorn(tmp_path, {"API_KEYS": API_KEY, "TRACKING_URI": model_store.uri, "MODEL_POLL_SECONDS": 0,
                                       "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}"}, workers=2)
    try:
        server.wait_ready()
        base = f"http://127.0.0.1:{server.port}"
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = browser.open(f"{base}/").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        data = urllib.parse.urlencode({"api_key": API_KEY, "csrf_token": token}).encode()
        assert "visit-form" in browser.open(f"{base}/sign-in", data=data).read().decode()  # 303 to the page
        assert [browser.open(f"{base}/v1/treatments").status for _ in range(20)] == [200] * 20
    finally:
        server.stop()
