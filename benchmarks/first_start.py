"""A fresh clone's first `make serve`, timed until it answers /healthz/ready (issue 27: within 3 minutes).

    python -m benchmarks.first_start [--timeout S] [--keep]

Clones this repository's committed HEAD (`git clone`, so uncommitted changes are not in it) into a
temporary folder under var/bench/ and runs `make serve PORT=<a free port>` there, as a new user
would: the install into the clone's own .venv (`make venv` with uv, docs/operations.md "Install";
uv's cache is whatever this machine has, warm after one install), the bootstrap (demo history, the
demo champion's training, the dev key) and nginx in front of gunicorn. From launch it times each
milestone from the lines `make serve` prints: the install done (the .venv's stamp file appears),
the history generated, the training started and ended, nginx started, and /healthz/ready answering
200; it keeps the bootstrap's own printed estimate of the training beside what the training took.
Then Ctrl-C's equivalent (SIGINT to the process group this script started) stops gunicorn and
nginx, and the clone is removed (`--keep` leaves it and prints where).

The time depends on the machine's load (the install and the training are CPU-bound): the table
says the load average at the start; the bar holds on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.bars import record_bar
from benchmarks.common import (BENCH_DIR, PROJECT_ROOT, format_table, free_port, http_status, machine_line, verdict,
                               stop_group)

READY_BAR_SECONDS = 180.0
DEFAULT_TIMEOUT_SECONDS = 900.0
# The lines of `make serve` (service/bootstrap.py, training/train.py, service/proxy.py) that mark a milestone.
MILESTONES = {
    "history generated": re.compile(r"^no champion yet; generating"),
    "training started": re.compile(r"^training the demo champion on"),
    "training done": re.compile(r"^\s+export done in"),
    "nginx started": re.compile(r"^starting nginx on"),
}
ESTIMATE = re.compile(r"about (\d+) s on a quiet machine.*about (\d+) s$")


def clean_environment() -> dict[str, str]:
    """This process's environment without the developer's service settings and without this
    interpreter's venv: the clone installs and runs its own, as a fresh checkout would."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("MEDSPA_COVERAGE_", "VIRTUAL_ENV")) and name != "MLFLOW_TRACKING_URI"}
    venv_bin = str(Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin")
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin)
    return env


class Milestones:
    """Reads `make serve`'s output as it comes, noting when each milestone's line appears."""

    def __init__(self, stream, started: float, log: Path):
        self.started, self.seen, self.estimate = started, {}, None
        self._thread = threading.Thread(target=self._read, args=(stream, log), daemon=True)
        self._thread.start()

    def _read(self, stream, log: Path) -> None:
        with open(log, "w") as handle:
            for line in stream:
                handle.write(line)
                handle.flush()
                for name, pattern in MILESTONES.items():
                    if name not in self.seen and pattern.search(line):
                        self.seen[name] = time.monotonic() - self.started
                if self.estimate is None and (found := ESTIMATE.search(line)):
                    self.estimate = (int(found.group(1)), int(found.group(2)))


def first_start(timeout: float, keep: bool) -> dict:
    """Clone, `make serve`, wait for /healthz/ready; the milestones' seconds from launch."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-first-start-", dir=BENCH_DIR))
    clone = scratch / "medspa-coverage"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(clone)], check=True)
    port = free_port()
    log = scratch / "make-serve.log"
    started = time.monotonic()
    process = subprocess.Popen(["make", "serve", f"PORT={port}"], cwd=clone, env=clean_environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    milestones = Milestones(process.stdout, started, log)
    installed, ready = None, None
    try:
        while ready is None:
            elapsed = time.monotonic() - started
            if installed is None and (clone / ".venv" / ".installed").exists():
                installed = elapsed
            try:
                if http_status(f"http://127.0.0.1:{port}/healthz/ready", timeout=2) == 200:
                    ready = elapsed
            except OSError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"make serve exited with code {process.returncode} before it was ready; see {log}")
            if elapsed > timeout:
                raise RuntimeError(f"not ready within {timeout:.0f} s; see {log}")
            time.sleep(0.5)
    finally:
        stop_group(process, signal.SIGINT)  # what Ctrl-C sends: gunicorn and nginx stop together
        if keep:
            print(f"kept: {clone} (its output: {log})")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"installed": installed, **milestones.seen, "ready": ready, "estimate": milestones.estimate}


def seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def table(result: dict) -> str:
    trained = (result["training done"] - result["training started"]
               if "training done" in result and "training started" in result else None)
    quiet, loaded = result["estimate"] or (None, None)
    return format_table(
        ("what", "install s", "history + training s", "training s (printed estimate: quiet / at that load)",
         "ready s", "bar", "verdict"),
        [("a fresh clone's `make serve` until /healthz/ready", seconds(result["installed"]),
          seconds((result.get("nginx started") or result["ready"]) - (result["installed"] or 0)),
          f"{seconds(trained)} ({seconds(quiet)} / {seconds(loaded)})", seconds(result["ready"]),
          f"<= {READY_BAR_SECONDS:.0f} s", verdict(result["ready"] <= READY_BAR_SECONDS))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="give up after S seconds")
    parser.add_argument("--keep", action="store_true", help="keep the clone and its output")
    options = parser.parse_args(argv)
    print(machine_line("first start: a fresh clone's `make serve`, install included"))
    result = first_start(options.timeout, options.keep)
    print(table(result))
    record_bar("a fresh clone's `make serve` until /healthz/ready", f"<= {READY_BAR_SECONDS:.0f} s",
               f"{result['ready']:.0f} s", f"install {seconds(result['installed'])} s, the rest history and training",
               result["ready"] <= READY_BAR_SECONDS)


if __name__ == "__main__":
    main()
