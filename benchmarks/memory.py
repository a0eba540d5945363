"""How much memory the service takes: one gunicorn worker after warm-up, and what imports cost.

    python -m benchmarks.memory [--warm-up-seconds S]

1. Our gunicorn service (the repo's config, 1 worker) on a free loopback port against the bench
   store's champion: wait for /healthz/ready, send single claims and 100-claim batches for a few
   seconds, then read the worker's memory with psutil: RSS, USS (its own pages) and PSS; and the
   master's RSS.
2. In a fresh interpreter, RSS after each step of what a worker does before its first request:
   start-up, `import service` (create_app only), the app's request modules, the model stack, then
   `create_app()` with the champion loaded and warmed up.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (BENCH_API_KEY, BENCH_DIR, BenchModel, PROJECT_ROOT, ensure_bench_model, format_table,
                               free_port, gunicorn_argv, gunicorn_environment, machine_line, quiet_this_process,
                               request_claims, running_server, wait_for)
from benchmarks.load import json_bodies, run_load

DEFAULT_WARM_UP_SECONDS = 5.0
MIB = 2**20

# Run in a fresh interpreter: RSS after each step, as JSON lines.
_IMPORT_STEPS = r"""
import json, os, sys
import psutil
me = psutil.Process()
def step(name):
    print(json.dumps({"step": name, "rss": me.memory_info().rss}), flush=True)
step("python interpreter (+ psutil)")
import service.app
step("import service.app (create_app only)")
import service.api, service.claims, service.schemas, service.audit, service.openapi, service.monitoring
step("+ request modules (flask, pydantic, sqlalchemy)")
import service.model_loading, scoring.coverage_model, scoring.advice, mlflow
step("+ model stack (numpy, scikit-learn, numba, skops, mlflow)")
app = service.app.create_app()
assert app.extensions["coverage_model"].ready, app.extensions["coverage_model"].info()
step("create_app(): champion loaded and warmed up")
"""


def worker_memory(bench: BenchModel, warm_up_seconds: float) -> list[tuple]:
    import psutil

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-memory-", dir=BENCH_DIR) as scratch:
        log = Path(scratch) / "gunicorn.log"
        env = gunicorn_environment(bench, Path(scratch) / "audit.db")
        with running_server(gunicorn_argv(port, 1), env, log) as server:
            base = f"http://127.0.0.1:{port}"
            ready_seconds = wait_for(f"{base}/healthz/ready", server, timeout=120, log=log)
            master = psutil.Process(server.pid)
            (worker,) = master.children()
            after_ready = worker.memory_full_info()
            claims = request_claims(200, bench.history)
            headers = {"Authorization": f"Bearer {BENCH_API_KEY}"}
            single = run_load(f"{base}/v1/predict", json_bodies(claims), headers, 4, warm_up_seconds / 2)
            batches = [{"claims": claims[start:start + 100]} for start in (0, 100)]
            batch = run_load(f"{base}/v1/predict", json_bodies(batches), headers, 2, warm_up_seconds / 2)
            if single.errors or batch.errors:
                raise RuntimeError(f"warm-up had errors; see {log}")
            warmed = worker.memory_full_info()
            master_rss = master.memory_info().rss
    requests = f"{single.requests:,} single + {batch.requests:,} x 100-claim"
    return [
        ("worker, ready (model loaded, warm-up claim answered)", f"{after_ready.rss / MIB:,.0f}",
         f"{after_ready.uss / MIB:,.0f}", f"{after_ready.pss / MIB:,.0f}", f"ready in {ready_seconds:.1f} s"),
        ("worker, after warm-up requests", f"{warmed.rss / MIB:,.0f}", f"{warmed.uss / MIB:,.0f}",
         f"{warmed.pss / MIB:,.0f}", requests),
        ("gunicorn master", f"{master_rss / MIB:,.0f}", "", "", ""),
    ]


def import_memory(bench: BenchModel) -> list[tuple]:
    env = gunicorn_environment(bench, BENCH_DIR / "memory-import-audit.db")
    try:
        completed = subprocess.run([sys.executable, "-c", _IMPORT_STEPS], cwd=PROJECT_ROOT, env=env,
                                   capture_output=True, text=True, timeout=300)
    finally:
        for leftover in BENCH_DIR.glob("memory-import-audit.db*"):
            leftover.unlink()
    if completed.returncode != 0:
        raise RuntimeError(f"import steps failed:\n{completed.stderr[-3000:]}")
    steps = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    rows, previous = [], 0
    for step in steps:
        rows.append((step["step"], f"{step['rss'] / MIB:,.0f}", f"+{(step['rss'] - previous) / MIB:,.0f}"))
        previous = step["rss"]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-up-seconds", type=float, default=DEFAULT_WARM_UP_SECONDS)
    options = parser.parse_args(argv)
    quiet_this_process()
    bench = ensure_bench_model()
    print(machine_line(f"memory: one gunicorn sync worker serving champion v{bench.version} of the bench store"))
    print(format_table(("process", "RSS MiB", "USS MiB", "PSS MiB", "note"),
                       worker_memory(bench, options.warm_up_seconds)))
    print("\nUSS: pages only this process holds; PSS: its own plus its share of pages shared with other processes.\n")
    print(format_table(("fresh interpreter, step by step", "RSS MiB", "step MiB"), import_memory(bench)))


if __name__ == "__main__":
    main()
