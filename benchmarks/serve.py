"""The same registered champion served two ways, one after the other, under the same load.

    python -m benchmarks.serve [--seconds S] [--mlflow-workers N]

1. `mlflow models serve -m models:/medspa-coverage@champion --env-manager local` (the logged
   pyfunc, scoring/pyfunc_model.py; `--mlflow-workers` uvicorn workers, default 2 like ours),
   called with the MLflow scoring protocol (`{"dataframe_records": [...]}` to /invocations);
2. our service as `make serve` runs it: nginx in front of gunicorn with the repo's config, 2
   sync workers on nginx's Unix socket, an API key, the rate limit on (a budget no load here
   reaches, so that each request still takes its token in the audit database as in production),
   called at POST /v1/predict (one claim, or `{"claims": [...]}`); every answer carries the
   reasons, factors and advice and is written to the audit store, where mlflow's pyfunc returns
   the scores only. Its CPU per request counts nginx's too (a child of gunicorn's master).

Both run against the bench store (benchmarks.common) on a free loopback port and are stopped in a
`finally`. The load generator is wrk when installed (else Python threads with keep-alive), the
same for both: single claims at concurrency 1, 8 and 32, then 100-claim batches at 1 and 8, each
cell `--seconds` long after a short warm-up, with the bodies cycling over 500 demo claims. The
machine is shared: each cell starts once other work uses under a quarter of the cores (waiting
at most 30 s), and the table shows how much CPU other processes took during each cell.
The barred cell (single claims at concurrency 8) is run three times a server and its runs' medians
reported. Reported: requests/s, p50, p99, errors, and ours / mlflow (bar at concurrency 8, single claims:
throughput >= 20x and p99 <= 1/20 of mlflow's: issue 27). `--no-explain` asks ours for answers
without the exact factors (`?explain=false`). The generator shares the two cores with the
server, so both servers' figures are lower than on a separate client machine. The tables are
appended to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from statistics import median_low

from benchmarks.bars import record_bar
from benchmarks.common import (BENCH_API_KEY, BENCH_DIR, GUNICORN_CONFIG, QUIET_SHARE, QUIET_WAIT_SECONDS, BenchModel,
                               bench_environment, ensure_bench_model, format_table, free_port,
                               gunicorn_environment, machine_line, mlflow_record, quiet_this_process, request_claims,
                               keep_results, running_server, verdict, wait_for, wait_for_quiet)
from benchmarks.load import LoadResult, generator_name, json_bodies, post_json, run_load

DEFAULT_SECONDS = 8.0
WARM_UP_SECONDS = 2.0
DISTINCT_CLAIMS = 500
BATCH_SIZE = 100
# (label, claims per request, concurrency)
CELLS = (("single claim, c=1", 1, 1), ("single claim, c=8", 1, 8), ("single claim, c=32", 1, 32),
         ("100-claim batch, c=1", BATCH_SIZE, 1), ("100-claim batch, c=8", BATCH_SIZE, 8))
BARRED_CELL = "single claim, c=8"
BARRED_RUNS = 3  # the barred cell is run this many times a server, its figures the runs' medians
THROUGHPUT_BAR, P99_BAR = 20.0, 0.05  # issue 27
OURS, MLFLOW = "ours (nginx + gunicorn)", "mlflow models serve"


@dataclass
class Server:
    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    ready_path: str
    predict_path: str
    headers: dict[str, str]

    def body(self, claims: list[dict]) -> dict:
        if self.name == MLFLOW:
            return {"dataframe_records": [mlflow_record(claim) for claim in claims]}
        return claims[0] if len(claims) == 1 else {"claims": claims}

    def probabilities(self, answer: bytes) -> list[float]:
        document = json.loads(answer)
        if self.name == MLFLOW:
            return [row["approval_probability"] for row in document["predictions"]]
        return [result["answer"]["approval_probability"] for result in document["results"]]


# Requests and claims per minute per key: on, as `serve` runs, and out of any cell's reach.
UNREACHED_BUDGET = str(10**9)


def servers(bench: BenchModel, mlflow_workers: int, audit_db: Path, explain: bool = True) -> list[Server]:
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    port, our_port = free_port(), free_port()
    # With PROXY_LISTEN set, gunicorn_conf.py binds the Unix socket nginx passes to (--bind would override it).
    ours = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--workers", "2", "service.wsgi:app"]
    proxied = {**gunicorn_environment(bench, audit_db), "MEDSPA_COVERAGE_PROXY_LISTEN": f"127.0.0.1:{our_port}",
               "MEDSPA_COVERAGE_PROXY_DIR": str(audit_db.parent / "nginx"),
               "MEDSPA_COVERAGE_RATE_LIMIT_PER_MINUTE": UNREACHED_BUDGET,
               "MEDSPA_COVERAGE_RATE_LIMIT_CLAIMS_PER_MINUTE": UNREACHED_BUDGET}
    return [
        Server(MLFLOW, port, [mlflow_cli, "models", "serve", "-m", bench.model_uri, "--env-manager", "local",
                        "-h", "127.0.0.1", "-p", str(port), "-w", str(mlflow_workers)],
               bench_environment(MLFLOW_TRACKING_URI=bench.uri), "/ping", "/invocations", {}),
        Server(OURS, our_port, ours, proxied, "/healthz/ready",
               "/v1/predict" if explain else "/v1/predict?explain=false", {"Authorization": f"Bearer {BENCH_API_KEY}"}),
    ]


def measure(server: Server, claims: list[dict], seconds: float, log: Path) -> tuple[dict, list[float]]:
    """Start the server, check it answers, run every cell; (label -> LoadResult, probabilities of a check batch)."""
    base = f"http://127.0.0.1:{server.port}"
    results = {}
    with running_server(server.argv, server.env, log) as process:
        wait_for(base + server.ready_path, process, timeout=180, log=log)
        status, answer = post_json(base + server.predict_path, server.body(claims[:BATCH_SIZE]), server.headers)
        if status != 200:
            raise RuntimeError(f"{server.name} answered {status} to a check batch: {answer[:500]!r}")
        checked = server.probabilities(answer)
        bodies = {1: json_bodies([server.body([claim]) for claim in claims]),
                  BATCH_SIZE: json_bodies([server.body(claims[start:start + BATCH_SIZE])
                                           for start in range(0, len(claims), BATCH_SIZE)])}
        run_load(base + server.predict_path, bodies[1], server.headers, 8, WARM_UP_SECONDS)
        for label, size, concurrency in CELLS:
            runs = []
            for _ in range(BARRED_RUNS if label == BARRED_CELL else 1):
                wait_for_quiet()
                before = CpuSnapshot.take(process.pid)
                found = run_load(base + server.predict_path, bodies[size], server.headers, concurrency, seconds)
                runs.append(Cell(found, *CpuSnapshot.take(process.pid).since(before, found.requests)))
                print(f"  {server.name:<20} {label:<22} {found.per_second:9,.1f} requests/s", file=sys.stderr)
            results[label] = median_cell(runs)
    return results, checked


def median_cell(runs: list["Cell"]) -> "Cell":
    """A cell run several times, as one: the median run's throughput, the median p50, p99 and CPU per
    request, every run's errors, and the largest share other work took."""
    middle = sorted(runs, key=lambda run: run.load.per_second)[(len(runs) - 1) // 2].load
    load = LoadResult(middle.requests, sum(run.load.errors for run in runs), middle.seconds,
                      median_low(run.load.p50_ms for run in runs), median_low(run.load.p99_ms for run in runs),
                      middle.generator)
    return Cell(load, median_low(run.server_cpu_ms for run in runs), max(run.others_share for run in runs))


@dataclass
class Cell:
    load: LoadResult
    server_cpu_ms: float  # the server's processes' CPU time per request
    others_share: float  # share of the machine's CPU time used by neither the server nor the load generator


@dataclass
class CpuSnapshot:
    """CPU seconds so far: the server's process tree, this process and its children (wrk), the machine."""

    server: float
    generator: float
    machine_busy: float
    machine_total: float

    @classmethod
    def take(cls, server_pid: int) -> "CpuSnapshot":
        import os

        import psutil

        server = 0.0
        root = psutil.Process(server_pid)
        for member in [root, *root.children(recursive=True)]:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            server += times.user + times.system
        mine = os.times()
        machine = psutil.cpu_times()
        total = sum(machine)
        return cls(server, mine.user + mine.system + mine.children_user + mine.children_system,
                   total - machine.idle - getattr(machine, "iowait", 0.0), total)

    def since(self, before: "CpuSnapshot", requests: int) -> tuple[float, float]:
        server = self.server - before.server
        others = (self.machine_busy - before.machine_busy) - server - (self.generator - before.generator)
        return server * 1000 / max(requests, 1), max(others, 0.0) / (self.machine_total - before.machine_total)


def result_rows(results: dict[str, dict[str, Cell]]) -> list[tuple]:
    rows = []
    for label, size, _ in CELLS:
        for name in (MLFLOW, OURS):
            cell = results[name][label]
            found = cell.load
            rows.append((label, name, f"{found.per_second:,.1f}", f"{found.per_second * size:,.0f}",
                         f"{found.p50_ms:.2f}", f"{found.p99_ms:.2f}", f"{found.errors:,}", f"{found.requests:,}",
                         f"{cell.server_cpu_ms:.2f}", f"{cell.others_share:.0%}"))
    return rows


def ratio_rows(results: dict[str, dict[str, Cell]]) -> list[tuple]:
    rows = []
    for label, _, _ in CELLS:
        ours, theirs = results[OURS][label].load, results[MLFLOW][label].load
        throughput = ours.per_second / theirs.per_second if theirs.per_second else float("inf")
        p99 = ours.p99_ms / theirs.p99_ms if theirs.p99_ms else float("nan")
        bar = ""
        if label == BARRED_CELL:
            bar = (f">= {THROUGHPUT_BAR:g}x: {verdict(throughput >= THROUGHPUT_BAR)}; "
                   f"p99 <= 1/{1 / P99_BAR:g}: {verdict(p99 <= P99_BAR)}")
            record_bar(f"HTTP, {label}, through nginx: throughput", f">= {THROUGHPUT_BAR:g}x mlflow",
                       f"{throughput:,.1f}x ({ours.per_second:,.0f} requests/s)",
                       f"`mlflow models serve`: {theirs.per_second:,.0f} requests/s", throughput >= THROUGHPUT_BAR)
            record_bar(f"HTTP, {label}: p99", f"<= 1/{1 / P99_BAR:g} of mlflow's",
                       f"1/{1 / p99:,.1f} ({ours.p99_ms:.1f} ms)" if p99 else "-",
                       f"`mlflow models serve`: {theirs.p99_ms:.1f} ms", bool(p99) and p99 <= P99_BAR)
        rows.append((label, f"{throughput:,.1f}x", f"{p99:.3f} (1/{1 / p99:,.1f})" if p99 else "-", bar))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each load cell")
    parser.add_argument("--mlflow-workers", type=int, default=2, help="uvicorn workers of mlflow models serve")
    parser.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True,
                        help="ours answers with the exact factors (default) or without (?explain=false)")
    options = parser.parse_args(argv)
    quiet_this_process()
    bench = ensure_bench_model()
    claims = request_claims(DISTINCT_CLAIMS, bench.history)
    header = machine_line(f"serve: champion v{bench.version} of the bench store, mlflow models serve vs ours, "
                          "one after the other on 127.0.0.1")
    results, checks = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-", dir=BENCH_DIR) as scratch:
        scratch = Path(scratch)
        for server in servers(bench, options.mlflow_workers, scratch / "audit.db", options.explain):
            log = scratch / f"{server.name.split()[0]}.log"
            try:
                results[server.name], checks[server.name] = measure(server, claims, options.seconds, log)
            except Exception:
                if log.is_file():
                    shutil.copyfile(log, BENCH_DIR / f"serve-{server.name.split()[0]}-failed.log")
                raise
    largest_gap = max(abs(a - b) for a, b in zip(checks[MLFLOW], checks[OURS]))
    factors = "with" if options.explain else "without (?explain=false)"
    keep_results("\n".join([
        header,
        f"load generator: {generator_name()}, on the same 2 cores as the server (it takes CPU from it); "
        f"{options.seconds:g} s per cell after a {WARM_UP_SECONDS:g} s warm-up, each started once other work "
        f"used under {QUIET_SHARE:.0%} of the cores (or after {QUIET_WAIT_SECONDS:g} s); mlflow models serve with "
        f"{options.mlflow_workers} uvicorn workers, ours through nginx to 2 gunicorn sync workers (rate limit on), answers {factors} the exact "
        f"factors. Same model: approval probabilities of {BATCH_SIZE} claims agree within {largest_gap:.4f} "
        f"(ours rounds to 4 decimals). The barred cell ({BARRED_CELL}) is run {BARRED_RUNS} times a server: its "
        "figures are the runs' medians (throughput: the median run's), since one cell swings by 10-20% here.\n",
        format_table(("load", "server", "requests/s", "claims/s", "p50 ms", "p99 ms", "errors", "requests",
                      "server CPU ms/request", "CPU used by others"), result_rows(results)),
        "\nserver CPU ms/request: CPU time of the server's processes per request (what the load costs it, "
        "steadier than requests/s on a shared machine); CPU used by others: share of the 2 cores taken by "
        "processes other than the server and the load generator during the cell.\n",
        format_table(("load", "throughput ours / mlflow (target, peer)", "p99 ours / mlflow", "bar (issue 27)"),
                     ratio_rows(results)),
        "\nours answers every claim with reasons and advice (and the factors unless --no-explain) and writes it to "
        "the audit store; mlflow's pyfunc returns the scores only.",
    ]))

if __name__ == "__main__":
    main()
