"""Constants and helpers shared by the service tests (fixtures live in conftest.py)."""
from __future__ import annotations

import copy
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from features.contract import EXAMPLE_CLAIM

API_KEY = "test-key-0123456789"
OTHER_KEY = "other-key-9876543210"
SENTINEL = "SENTINEL-7f3a"
MODEL_NAME = "medspa-coverage"


@dataclass(frozen=True)
class ModelStore:
    """A temporary MLflow store with two real registered versions of a tiny trained model:
    `champion` -> `champion_version`, and `other_version` registered beside it (challenger)."""

    folder: Path
    database: Path
    models_dir: Path
    history: Path
    champion_version: str
    other_version: str

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.database}"

    def copy_to(self, folder: Path) -> "ModelStore":
        """The same registry in a new database file, for tests that move aliases (the artifacts it
        names stay where they are: they are only read)."""
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "mlflow.db"
        shutil.copyfile(self.database, database)
        return ModelStore(folder, database, self.models_dir, self.history, self.champion_version, self.other_version)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def move_champion(self, version: str) -> None:
        self.client().set_registered_model_alias(MODEL_NAME, "champion", version)


DROP = object()  # example_claim(field=DROP) leaves the field out


def example_claim(**changes) -> dict:
    claim = copy.deepcopy(EXAMPLE_CLAIM)
    for name, value in changes.items():
        if value is DROP:
            claim.pop(name, None)
        else:
            claim[name] = value
    return claim


def body_of(response) -> dict:
    assert response.mimetype == "application/json", response.data[:200]
    return json.loads(response.data)


# -- real gunicorn on loopback --------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "service" / "gunicorn_conf.py"


def raw_exchange(port: int, request: bytes, half_close: bool = False, timeout: float = 10) -> bytes:
    """Send raw bytes to a local server and read everything it answers until it closes. A server
    that closes with an over-limit body unread may reset the connection: what came is kept."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gunicorn:
    """A gunicorn master this test started (stop it with `stop`, by its pid); stdout and stderr go to
    a file, not a pipe: a full pipe would block the workers' logging."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def status(self, path: str, timeout: float = 5) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.status("/healthz/ready", timeout=2) == 200:
                    return
            except OSError:
                pass
            assert self.process.poll() is None, f"gunicorn exited:\n{self.log()[-2000:]}"
            assert time.monotonic() < deadline, f"gunicorn was not ready in {timeout} s:\n{self.log()[-2000:]}"
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the master and the workers it had (by their pids) if it lingers."""
        if self.process.poll() is not None:
            return
        try:
            workers = psutil.Process(self.pid).children(recursive=True)  # workers, and nginx when in front
        except psutil.NoSuchProcess:
            workers = []
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for worker in psutil.wait_procs(workers, timeout=5)[1]:
            worker.kill()


def start_gunicorn(folder: Path, settings: dict, workers: int = 2, *options: str, port: int | None = None,
                   log_name: str = "gunicorn.log") -> Gunicorn:
    """gunicorn with the repo's config on 127.0.0.1, the service settings given (`{"API_KEYS": ...}`
    becomes MEDSPA_COVERAGE_API_KEYS) and none from the developer's shell."""
    port = port or free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MEDSPA_COVERAGE_") and name != "MLFLOW_TRACKING_URI"}
    env.update({f"MEDSPA_COVERAGE_{name}": str(value) for name, value in settings.items()})
    log_path = folder / log_name
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), *options, "service.wsgi:app"],
            cwd=folder, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    return Gunicorn(process, port, log_path)


def start_production_server(folder: Path, settings: dict, workers: int = 2, port: int | None = None,
                            log_name: str = "serve.log") -> Gunicorn:
    """`medspa-coverage serve`, the production shape: nginx on 127.0.0.1:`port` in front of gunicorn
    with the repo's config (nginx's files in `folder`/nginx); settings as for start_gunicorn."""
    port = port or free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MEDSPA_COVERAGE_") and name != "MLFLOW_TRACKING_URI"}
    env.update({f"MEDSPA_COVERAGE_{name}": str(value) for name, value in settings.items()})
    env["MEDSPA_COVERAGE_PROXY_DIR"] = str(folder / "nginx")
    log_path = folder / log_name
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    return Gunicorn(process, port, log_path)
