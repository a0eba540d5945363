"""The repo's gunicorn config boots the app on loopback, answers health checks and stops on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_gunicorn_serves_health_and_shuts_down_on_sigterm(tmp_path):
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MEDSPA_COVERAGE_")}
    env.update(MEDSPA_COVERAGE_AUDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'audit.db'}",
               MEDSPA_COVERAGE_API_KEYS="smoke-key", MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "service" / "gunicorn_conf.py"),
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


def test_serve_command_execs_gunicorn_with_the_repo_config(monkeypatch):
    from click.testing import CliRunner

    from service import cli

    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: calls.append((path, argv)))
    result = CliRunner().invoke(cli.main, ["serve", "--bind", "127.0.0.1:9999", "--workers", "3"])
    assert result.exit_code == 0, result.output
    path, argv = calls[0]
    assert path == sys.executable
    assert argv[1:5] == ["-m", "gunicorn", "-c", str(ROOT / "service" / "gunicorn_conf.py")]
    assert argv[5:] == ["--bind", "127.0.0.1:9999", "--workers", "3", "service.wsgi:app"]
