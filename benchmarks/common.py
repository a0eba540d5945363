"""What the benchmark scripts share: the bench model store, demo files, request claims, tables,
and servers started on loopback and always stopped.

Everything a benchmark keeps between runs lives in var/bench/ (generated, not committed; `make
clean` removes it):

    var/bench/history-<rows>.parquet (+ .truth.parquet)   demo history, generated once per size
    var/bench/store/                                        MLflow store (mlflow.db, mlartifacts/),
                                                            champion bundle (models/), train log

The store's champion is trained once, on BENCH_ROWS demo claims, with the real command
(`python -m service train`, the same as `medspa-coverage train`), and reused by every script.
Delete var/bench/store to train it again.

The machine is shared with other developers' test runs: timed steps start once other work uses
under a quarter of the cores (`wait_for_quiet`, at most 30 s), and every table's header says the
load average when it started.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = PROJECT_ROOT / "var" / "bench"
STORE_DIR = BENCH_DIR / "store"
BENCH_ROWS = 200_000
BENCH_SEED = 20260302
REQUEST_SEED = 7
GUNICORN_CONFIG = PROJECT_ROOT / "service" / "gunicorn_conf.py"
BENCH_API_KEY = "bench-key-not-a-secret"
# Native pools at one thread, telemetry off: the same as `make` sets for every command.
QUIET_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "OMP_WAIT_POLICY": "PASSIVE", "MLFLOW_DISABLE_TELEMETRY": "true"}


@dataclass(frozen=True)
class BenchModel:
    """The bench store and its champion."""

    store: Path
    version: str
    history: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.store / 'mlflow.db'}"

    @property
    def models_dir(self) -> Path:
        return self.store / "models"

    model_uri = "models:/medspa-coverage@champion"


# -- environment and headers --------------------------------------------------------------------
def bench_environment(**extra: str) -> dict[str, str]:
    """This process's environment without the developer's service settings, plus QUIET_ENVIRONMENT and
    this interpreter's bin folder first on PATH."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MEDSPA_COVERAGE_") and name != "MLFLOW_TRACKING_URI"}
    env.update(QUIET_ENVIRONMENT)
    # The interpreter's bin first: `make bench` does not activate the venv, and mlflow serve runs `uvicorn`.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def quiet_this_process() -> None:
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def machine_line(title: str) -> str:
    """`## title`, then when, the load average (the machine is shared) and the cores."""
    one, five, fifteen = os.getloadavg()
    return (f"## {title}\n\n{time.strftime('%Y-%m-%d %H:%M')}, load average {one:.2f} / {five:.2f} / {fifteen:.2f} "
            f"(1/5/15 min) at start, {os.cpu_count()} cores\n")


QUIET_SHARE = 0.25  # of all cores
QUIET_WAIT_SECONDS = 30.0


def wait_for_quiet(max_seconds: float = QUIET_WAIT_SECONDS, share: float = QUIET_SHARE) -> float:
    """Before a timed step: wait (at most `max_seconds`) until other work on the machine (other
    developers' tests) uses less than `share` of the cores over one second; returns that share."""
    import psutil

    deadline = time.monotonic() + max_seconds
    while True:
        busy = psutil.cpu_percent(interval=1.0) / 100
        if busy < share or time.monotonic() >= deadline:
            return busy


def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A markdown table; the first column is left-aligned, the others right-aligned."""
    cells = [tuple(str(cell) for cell in header)] + [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]

    def line(row):
        return "| " + " | ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                                 for column, (cell, width) in enumerate(zip(row, widths))) + " |"

    rule = "|" + "|".join(("-" * (width + 2)) if column == 0 else ("-" * (width + 1) + ":")
                          for column, width in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *map(line, cells[1:])])


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "RESULTS.md"


def keep_results(text: str, keep: bool = True) -> None:
    """Print a benchmark's tables and append them to benchmarks/RESULTS.md (each starts with its
    machine line: when, the load average, the cores), so the latest run is kept beside the earlier;
    `keep=False` (a trial run's `--no-keep`) only prints them."""
    import platform

    print(text)
    if not keep:
        return
    with open(RESULTS_FILE, "a", encoding="utf-8") as results:
        results.write(f"\n{text.rstrip()}\n\n(machine: {platform.node()}, {platform.processor() or platform.machine()}; "
                      f"uptime at the end: {_uptime()})\n")


def _uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


# -- demo files and the bench model --------------------------------------------------------------
def demo_history(rows: int, seed: int = BENCH_SEED, echo: Callable[[str], None] = print) -> Path:
    """var/bench/history-<rows>.parquet and its truth file, generated when missing."""
    from training.demo.generator import generate_history

    path = BENCH_DIR / f"history-{rows}.parquet"
    return history_with_truth(path, lambda partial: generate_history(rows, seed, partial, progress=False),
                              f"{rows:,} demo claims", echo)


def history_with_truth(path: Path, write: Callable[[Path], object], what: str,
                       echo: Callable[[str], None] = print) -> Path:
    """`path` and its `<stem>.truth<suffix>` beside it, written by `write(partial path)` when either
    is missing. Both are written in a scratch folder and moved in, the history last: its presence
    means both are whole, so an interrupted run leaves nothing a later one would trust."""
    truth = path.with_name(f"{path.stem}.truth{path.suffix}")
    if path.is_file() and truth.is_file():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    echo(f"generating {what} into {path}")
    with tempfile.TemporaryDirectory(prefix=".history-", dir=BENCH_DIR) as scratch:
        partial = Path(scratch) / path.name
        write(partial)
        os.replace(partial.with_name(truth.name), truth)
        os.replace(partial, path)
    return path


def champion_version(uri: str) -> str | None:
    """The champion's version; None without one, or with one registered before model manifests
    (no loader would read it: the bench trains again)."""
    from scoring.artifacts import MODEL_MANIFEST_TAG, version_for_alias
    from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, mlflow_client

    champion = version_for_alias(mlflow_client(uri), REGISTERED_MODEL, CHAMPION, missing_ok=True)
    if champion is None or MODEL_MANIFEST_TAG not in (champion.tags or {}):
        return None
    return str(champion.version)


def ensure_bench_model(echo: Callable[[str], None] = print) -> BenchModel:
    """The bench store's champion; trained with `python -m service train` when there is none."""
    history = demo_history(BENCH_ROWS, echo=echo)
    probe = BenchModel(STORE_DIR, "", history)
    version = champion_version(probe.uri) if (STORE_DIR / "mlflow.db").is_file() else None
    if version is None:
        shutil.rmtree(STORE_DIR, ignore_errors=True)  # a half-made store from an interrupted run
        STORE_DIR.mkdir(parents=True)
        echo(f"training the bench champion on {history.name} (log: {STORE_DIR / 'train.log'})")
        with open(STORE_DIR / "train.log", "w") as log:
            subprocess.run([sys.executable, "-m", "service", "train", "--data", str(history), "--tracking-uri",
                            probe.uri, "--models-dir", str(probe.models_dir), "--quiet"],
                           cwd=PROJECT_ROOT, env=bench_environment(), stdout=log, stderr=subprocess.STDOUT, check=True)
        version = champion_version(probe.uri)
        if version is None:
            raise RuntimeError(f"training left no champion in {STORE_DIR}; see train.log there")
    return BenchModel(STORE_DIR, version, history)


def load_bench_model(bench: BenchModel):
    """The champion as a CoverageModel, loaded the way `medspa-coverage predict` loads it."""
    from scoring.artifacts import load_model

    return load_model(bench.model_uri, bench.uri).model


# -- request claims -----------------------------------------------------------------------------
def request_claims(count: int, history: Path, seed: int = REQUEST_SEED) -> list[dict]:
    """`count` claims drawn from a demo history, in the JSON request form of POST /v1/predict
    (no outcome fields; diagnosis codes a list; absent optional numbers left out)."""
    import math

    import numpy as np
    import pyarrow.parquet as pq

    from features.contract import VISIT_FIELDS

    # a history generated before contract v1.1 lacks the optional cost-sharing columns
    table = pq.read_table(history, columns=[name for name in VISIT_FIELDS if name in pq.read_schema(history).names])
    rows = np.random.default_rng(seed).choice(table.num_rows, size=count, replace=count > table.num_rows)
    claims = []
    for record in table.take(rows).to_pylist():
        claim = {}
        for name, value in record.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if name == "diagnosis_codes":
                value = [code for code in value.split(";") if code]
            elif name == "service_date":
                value = str(value)[:10]
            claim[name] = value
        claims.append(claim)
    return claims


def mlflow_record(claim: dict) -> dict:
    """A request claim as a row of the MLflow scoring protocol's `dataframe_records` (the logged
    model's signature: diagnosis codes `;`-joined as in a claims file)."""
    return {**claim, "diagnosis_codes": ";".join(claim.get("diagnosis_codes", []))}


def canonical_claims(claims: list[dict]) -> list[dict]:
    """Request claims validated into what CoverageModel.answer_claims takes (the service's own step)."""
    from service.claims import normalise_request_claim

    return [normalise_request_claim(claim) for claim in claims]


# -- percentiles -----------------------------------------------------------------------------------
def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(share * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# -- servers on loopback --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_for(url: str, process: subprocess.Popen, timeout: float, log: Path | None = None) -> float:
    """Poll `url` until it answers 200; the seconds it took. Fails when the server dies or times out."""
    started = time.monotonic()
    while True:
        try:
            if http_status(url, timeout=2) == 200:
                return time.monotonic() - started
        except OSError:
            pass
        if process.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.is_file() else ""
            raise RuntimeError(f"server exited with code {process.returncode} before {url} answered\n{tail}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def running_server(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Start a server in its own process group; on the way out, SIGTERM that group, then SIGKILL."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, first: signal.Signals = signal.SIGTERM) -> None:
    """`first` to the process group this script started for `process`, then SIGKILL after a grace."""
    for sig, grace in ((first, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)  # the group this script created for the server, nothing else
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or its zombie keeps the group alive
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
    process.poll()


def gunicorn_argv(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "service.wsgi:app"]


def gunicorn_environment(bench: BenchModel, audit_db: Path, **extra: str) -> dict[str, str]:
    """Our service against the bench store: registry champion, a bench API key, no rate limit."""
    return bench_environment(
        MEDSPA_COVERAGE_TRACKING_URI=bench.uri, MEDSPA_COVERAGE_AUDIT_DATABASE_URL=f"sqlite:///{audit_db}",
        MEDSPA_COVERAGE_API_KEYS=BENCH_API_KEY, MEDSPA_COVERAGE_RATE_LIMIT_PER_MINUTE="0",
        MEDSPA_COVERAGE_RATE_LIMIT_CLAIMS_PER_MINUTE="0",
        MEDSPA_COVERAGE_MODEL_POLL_SECONDS="0", **extra)


def log_result(log: Path, result: dict) -> None:
    """Append one measured row to a sweep's JSON-lines log, stamped with the minute: a long sweep
    that is interrupted keeps every row it finished, and a later run can print them again."""
    import json

    with open(log, "a") as handle:
        handle.write(json.dumps({**result, "at": time.strftime("%Y-%m-%d %H:%M")}) + "\n")
