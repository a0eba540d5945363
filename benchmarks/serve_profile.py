"""Where a single-claim request's server CPU goes over HTTP, and the floor under it.

    python -m benchmarks.serve_profile [--seconds S] [--rounds N] [--ceiling] [--peer] [--profile] [--no-keep]

Each round, one after the other on 127.0.0.1, under the load generator of benchmarks.serve
(single claims at concurrency 8, the bodies cycling over 500 demo claims, after a warm-up):
1. ours as `make serve` runs it (benchmarks.serve's set-up: nginx in front of 2 gunicorn sync
   workers on the repo's config, the rate limit on, the audit store written);
2. the floor: benchmarks/floor_app.py (Flask reading the JSON body and answering a fixed small
   JSON) under the same gunicorn config behind the same nginx;
3. with `--ceiling`, the ceiling: benchmarks/ceiling_app.py (the same model's answer to each claim,
   and nothing else: no key, rate limit, audit row, log line or metric), the same way; what no
   service layer around today's answer could beat here;
4. with `--peer`, `mlflow models serve` on the same champion (benchmarks.serve's peer).
Each reports requests/s, p50/p99 and the CPU milliseconds per request of nginx, the gunicorn
workers, gunicorn's master and the load generator itself: CPU time per request holds on a
loaded machine, requests/s does not. With `--profile`, ours runs once more with cProfile in each
worker (benchmarks/gunicorn_profile_conf.py) and the summed profile is split into the stages of
a request (STAGES), each as a share of the worker's time in gunicorn's `handle` and as
milliseconds scaled to the unprofiled worker CPU. The profiler's clock is the process's CPU time,
not the wall clock: time a worker waits (for the socket, for SQLite's lock, for a core another
process holds) is not counted. cProfile slows Python calls more than C calls: the shares are
indicative. The tables are appended to benchmarks/RESULTS.md unless
`--no-keep`.
"""
from __future__ import annotations

import argparse
import os
import pstats
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.common import (BENCH_DIR, PROJECT_ROOT, ensure_bench_model, format_table, keep_results, machine_line,
                               quiet_this_process, request_claims, running_server, wait_for, wait_for_quiet)
from benchmarks.load import LoadResult, generator_name, json_bodies, run_load
from benchmarks.serve import DEFAULT_SECONDS, DISTINCT_CLAIMS, OURS, WARM_UP_SECONDS, Server, servers

CONCURRENCY = 8  # issue 27's barred cell
FLOOR = "floor (Flask, fixed JSON)"
FLOOR_APP = "benchmarks.floor_app:app"
CEILING = "ceiling (the answer alone)"
CEILING_APP = "benchmarks.ceiling_app:app"
PROFILE_CONFIG = PROJECT_ROOT / "benchmarks" / "gunicorn_profile_conf.py"
PROFILE_DIR_ENV = "BENCH_PROFILE_DIR"  # where PROFILE_CONFIG's workers write their profiles
ROLES = ("nginx", "gunicorn workers", "gunicorn master")

# (label, depth, (path suffix, function name)): cumulative time of that function in the workers'
# profile. Depth indents the label under the stage it is part of.
STAGES = (
    ("one request in the worker (gunicorn sync handle)", 0, ("gunicorn/workers/sync.py", "handle")),
    ("parse the HTTP request (gunicorn)", 1, ("gunicorn/http/parser.py", "__next__")),
    ("the WSGI environ (gunicorn)", 1, ("gunicorn/http/wsgi.py", "create")),
    ("the app: ProxyFix + Flask wsgi_app", 1, ("werkzeug/middleware/proxy_fix.py", "__call__")),
    ("request context and session", 2, ("flask/ctx.py", "push")),
    ("API key check", 2, ("service/auth.py", "identify_client")),
    ("rate-limit token (UPDATE + commit)", 2, ("service/rate_limit.py", "admit")),
    ("request id (uuid4)", 2, ("service/app.py", "_assign_request_id")),
    ("the view: POST /v1/predict", 2, ("service/api.py", "predict")),
    ("read the JSON body", 3, ("service/request_body.py", "read_json_body")),
    ("validate the claim", 3, ("service/claims.py", "normalise_claims")),
    ("the answer (model extension)", 3, ("service/model_extension.py", "answered")),
    ("warnings", 3, ("service/claims.py", "claim_warnings")),
    ("JSON text of the answer", 3, ("service/audit.py", "compact_json")),
    ("audit rows + commit", 3, ("service/answer_audit.py", "record_answers")),
    ("claims and rules metrics", 3, ("service/metrics.py", "count_answered")),
    ("the response object", 3, ("service/api.py", "json_response")),
    ("request log line", 2, ("service/logging.py", "_log_request")),
    ("request metrics", 2, ("service/metrics.py", "_observe")),
    ("X-Request-ID header", 2, ("service/app.py", "_send_request_id")),
    ("session save", 2, ("flask/sessions.py", "save_session")),
    ("send the answer (gunicorn write)", 1, ("gunicorn/http/wsgi.py", "write")),
    ("close the connection", 1, ("gunicorn/util.py", "close_graceful")),
)


@dataclass
class Run:
    name: str
    load: LoadResult
    cpu_ms: dict[str, float]  # role -> CPU ms per request
    generator_ms: float


def role_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server's processes, by role (ROLES)."""
    import psutil

    seconds = dict.fromkeys(ROLES, 0.0)
    root = psutil.Process(root_pid)
    for member in [root, *root.children(recursive=True)]:
        try:
            times, name = member.cpu_times(), member.name()
        except psutil.NoSuchProcess:
            continue
        role = "gunicorn master" if member.pid == root_pid else "nginx" if "nginx" in name else "gunicorn workers"
        seconds[role] += times.user + times.system
    return seconds


def generator_cpu() -> float:
    mine = os.times()
    return mine.user + mine.system + mine.children_user + mine.children_system


def measure(server: Server, bodies: list[bytes], seconds: float, log: Path) -> Run:
    base = f"http://127.0.0.1:{server.port}"
    with running_server(server.argv, server.env, log) as process:
        wait_for(base + server.ready_path, process, timeout=180, log=log)
        run_load(base + server.predict_path, bodies, server.headers, CONCURRENCY, WARM_UP_SECONDS)
        wait_for_quiet()
        before, generator_before = role_cpu(process.pid), generator_cpu()
        found = run_load(base + server.predict_path, bodies, server.headers, CONCURRENCY, seconds)
        after, generator_after = role_cpu(process.pid), generator_cpu()
    requests = max(found.requests, 1)
    print(f"  {server.name:<28} {found.per_second:9,.1f} requests/s", file=sys.stderr)
    return Run(server.name, found, {role: (after[role] - before[role]) * 1000 / requests for role in ROLES},
               (generator_after - generator_before) * 1000 / requests)


def floor_server(ours: Server) -> Server:
    return replace(ours, name=FLOOR, argv=[*ours.argv[:-1], FLOOR_APP], predict_path="/v1/predict")


def ceiling_server(ours: Server) -> Server:
    return replace(ours, name=CEILING, argv=[*ours.argv[:-1], CEILING_APP])


def profiled_server(ours: Server, profile_dir: Path) -> Server:
    argv = list(ours.argv)
    argv[argv.index("-c") + 1] = str(PROFILE_CONFIG)
    return replace(ours, name=f"{OURS}, cProfile", argv=argv, env={**ours.env, PROFILE_DIR_ENV: str(profile_dir)})


def stage_rows(stats: pstats.Stats, requests: int, worker_ms: float) -> list[tuple]:
    """STAGES as (stage, share of handle, ms per request scaled to the unprofiled worker CPU, calls per request)."""
    totals = {}
    for (filename, _, function), (_, calls, _, cumulative, _) in stats.stats.items():
        for _, _, (suffix, name) in STAGES:
            if function == name and filename.endswith(suffix):
                seen = totals.get((suffix, name), (0, 0.0))
                totals[suffix, name] = (seen[0] + calls, seen[1] + cumulative)
    whole = totals.get(STAGES[0][2], (0, 0.0))[1] or float("nan")
    rows = []
    for label, depth, key in STAGES:
        calls, cumulative = totals.get(key, (0, 0.0))
        share = cumulative / whole
        rows.append(("  " * depth + label, f"{share:.1%}", f"{share * worker_ms:.3f}", f"{calls / requests:.2f}"))
    return rows


def top_functions(stats: pstats.Stats, requests: int, count: int = 25) -> list[tuple]:
    """The functions with the most time of their own, in microseconds per request."""
    entries = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:count]
    return [(f"{Path(filename).name}:{line} {function}", f"{own * 1e6 / requests:.1f}", f"{calls / requests:.2f}")
            for (filename, line, function), (_, calls, own, _, _) in entries]


def run_rows(runs: list[Run]) -> list[tuple]:
    return [(run.name, f"{run.load.per_second:,.0f}", f"{run.load.p50_ms:.2f}", f"{run.load.p99_ms:.2f}",
             f"{run.load.errors:,}", *(f"{run.cpu_ms[role]:.3f}" for role in ROLES),
             f"{sum(run.cpu_ms.values()):.3f}", f"{run.generator_ms:.3f}") for run in runs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each load cell")
    parser.add_argument("--rounds", type=int, default=2, help="the servers, alternating, this many times")
    parser.add_argument("--ceiling", action="store_true",
                        help="each round also the ceiling: benchmarks/ceiling_app.py, the answer with nothing around it")
    parser.add_argument("--peer", action="store_true", help="each round also mlflow models serve on the same champion")
    parser.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True,
                        help="ours and the ceiling with the exact factors (the default answer), or without")
    parser.add_argument("--profile", action="store_true", help="then ours once more under cProfile")
    parser.add_argument("--keep", action=argparse.BooleanOptionalAction, default=True,
                        help="append the tables to benchmarks/RESULTS.md")
    options = parser.parse_args(argv)
    quiet_this_process()
    bench = ensure_bench_model()
    claims = request_claims(DISTINCT_CLAIMS, bench.history)
    header = machine_line(f"serve_profile: one claim at concurrency {CONCURRENCY} through nginx, ours (champion "
                          f"v{bench.version} of the bench store) beside the floor")
    runs, sections = [], []
    with tempfile.TemporaryDirectory(prefix="bench-serve-profile-", dir=BENCH_DIR) as scratch:
        scratch = Path(scratch)
        mlflow, ours = servers(bench, 2, scratch / "audit.db", explain=options.explain)
        measured = [ours, floor_server(ours), *([ceiling_server(ours)] if options.ceiling else []),
                    *([mlflow] if options.peer else [])]
        bodies = {server.name: json_bodies([server.body([claim]) for claim in claims]) for server in measured}
        for number in range(options.rounds):
            for server in measured:
                runs.append(measure(server, bodies[server.name], options.seconds, scratch / f"{len(runs)}.log"))
        if options.profile:
            profile_dir = scratch / "profiles"
            profile_dir.mkdir()
            profiled = measure(profiled_server(ours, profile_dir), bodies[OURS], options.seconds,
                               scratch / "profile.log")
            files = sorted(profile_dir.glob("worker-*.prof"))
            if not files:
                raise RuntimeError("the workers wrote no profile: see " + str(scratch / "profile.log"))
            stats = pstats.Stats(*map(str, files))
            # The profile holds the warm-up's requests too: count what gunicorn's handle was called.
            handled = sum(calls for (filename, _, function), (_, calls, _, _, _) in stats.stats.items()
                          if function == "handle" and filename.endswith("gunicorn/workers/sync.py"))
            worker_ms = sum(run.cpu_ms["gunicorn workers"] for run in runs if run.name == OURS) / options.rounds
            sections += [
                f"\ncProfile of ours' workers: {handled:,} requests (warm-up included; the profiled run: "
                f"{profiled.load.per_second:,.0f} requests/s, worker CPU {profiled.cpu_ms['gunicorn workers']:.3f} "
                f"ms a request under the profiler). ms/request: the share times the unprofiled worker CPU "
                f"({worker_ms:.3f} ms).\n",
                format_table(("stage (cumulative, nested)", "share of handle", "ms/request", "calls/request"),
                             stage_rows(stats, handled, worker_ms)),
                "\nThe functions with the most time of their own (us per request under the profiler):\n",
                format_table(("function", "own us/request", "calls/request"), top_functions(stats, handled)),
            ]
    text = "\n".join([
        header,
        f"load generator: {generator_name()} on the same 2 cores, {CONCURRENCY} connections, {options.seconds:g} s a "
        f"cell after a {WARM_UP_SECONDS:g} s warm-up; {', '.join(server.name for server in measured)} alternating, "
        f"{options.rounds} round(s); ours {'with' if options.explain else 'without'} the exact factors. "
        "CPU columns: milliseconds of CPU per request (read these on a loaded machine, not requests/s).\n",
        format_table(("server", "requests/s", "p50 ms", "p99 ms", "errors", *(f"{role} CPU ms" for role in ROLES),
                      "server CPU ms", "generator CPU ms"), run_rows(runs)),
        *sections,
    ])
    keep_results(text, options.keep)


if __name__ == "__main__":
    main()
