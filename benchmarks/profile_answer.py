"""Where one claim's answer spends its time: cProfile over the single-claim path.

    python -m benchmarks.profile_answer [--model DIR] [--calls N] [--top N] [--explain/--no-explain]
                                        [--through-app] [--batch N]

The path is the service's without HTTP: `normalise_request_claim` (the request's validation), then
`CoverageModel.answer_claims([claim])`, one claim per call over a few hundred demo claims, after a
warm-up (`--batch N`: N claims per call, what a batch request costs beside N single answers). `--through-app` profiles the whole request instead: POST /v1/predict handed to the real
Flask app's WSGI callable as gunicorn hands it (key check, rate limit, body, validation, answer,
audit commit, JSON, request log, metrics; a temporary audit store, the rate limit on as `serve`
runs it), one claim per request or `--batch N` claims. Either way it first prints the CPU time per
answer or request without the profiler (process time: on a loaded machine steadier than wall
time), then the functions with the most time of their own and the most time under them, with
call counts per answer: the shares hold on a loaded machine, the milliseconds do not (cProfile
slows Python calls more than numpy's, so a share is indicative only).

The model is `--model` (a folder CoverageModel.save wrote: a bundle's model folder) or else the
bench store's champion (benchmarks.common, trained once); the claims are drawn from `--history`
or the bench history.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path

from benchmarks.common import (BENCH_ROWS, canonical_claims, demo_history, ensure_bench_model, load_bench_model, quiet_this_process,
                               request_claims)

DISTINCT_CLAIMS = 300
WARM_UP_CALLS = 300
DEFAULT_CALLS = 2_000


def load(model_dir: str | None, history: str | None):
    """The model and a history to draw claims from."""
    if model_dir is None:
        bench = ensure_bench_model()
        return load_bench_model(bench), Path(history) if history else bench.history
    from scoring.coverage_model import CoverageModel

    return CoverageModel.load(model_dir), Path(history) if history else demo_history(BENCH_ROWS)


def profile(model, raw: list[dict], calls: int, explain: bool | None, batch: int = 1) -> pstats.Stats:
    """`calls` calls of answer_claims, each on `batch` claims (validated one by one, as the service does)."""
    from service.claims import normalise_request_claim

    options = {} if explain is None else {"explain": explain}  # None: the default answer
    lists = [(raw * 2)[at:at + batch] for at in range(0, len(raw), batch)]

    def one(number):
        return model.answer_claims([normalise_request_claim(claim) for claim in lists[number % len(lists)]], **options)

    for number in range(max(1, WARM_UP_CALLS // batch)):
        one(number)
    print_cpu(calls, f"answers of {batch} claim(s) (validation + answer_claims)", one)
    profiler = cProfile.Profile()
    profiler.enable()
    for number in range(calls):
        one(number)
    profiler.disable()
    return pstats.Stats(profiler)


BENCH_KEY = "profile-key-not-a-secret"


def app_serving(model, folder: Path):
    """The service's app answering with `model` (as version 1 of the champion), its audit store in `folder`."""
    from scoring.artifacts import LoadedModel
    from service.app import create_app
    from service.model_loading import ServedCoverageModel

    def loader(config):
        return ServedCoverageModel(LoadedModel(model, "medspa-coverage", "1", "champion"), config)

    return create_app({"MODEL_LOADER": loader, "AUDIT_DATABASE_URL": f"sqlite:///{folder / 'audit.db'}",
                       "API_KEYS": [BENCH_KEY], "MODEL_POLL_SECONDS": 0, "LOG_LEVEL": "WARNING"})


def request_environments(bodies: list[bytes], path: str) -> list[dict]:
    """A WSGI environ per body, as gunicorn builds it for POST `path` (the body stream is added per call)."""
    from werkzeug.test import EnvironBuilder

    environments = []
    for body in bodies:
        environ = EnvironBuilder(path=path.split("?")[0], query_string=path.partition("?")[2], method="POST",
                                 data=body, headers={"Authorization": f"Bearer {BENCH_KEY}",
                                                     "Content-Type": "application/json"}).get_environ()
        environ.pop("wsgi.input")
        environments.append((environ, body))
    return environments


def call_app(app, environ: dict, body: bytes) -> int:
    """One request through the app's WSGI callable; its status code (the body is read and dropped)."""
    import io

    status = []
    response = app(dict(environ, **{"wsgi.input": io.BytesIO(body)}),
                   lambda line, headers, exc_info=None: status.append(line))
    for _ in response:
        pass
    getattr(response, "close", lambda: None)()
    return int(status[0].split()[0])


def profile_requests(model, raw: list[dict], calls: int, explain: bool | None, batch: int) -> pstats.Stats:
    import json
    import tempfile

    path = "/v1/predict" + ("" if explain is None else f"?explain={str(explain).lower()}")
    bodies = [json.dumps(raw[at] if batch == 1 else {"claims": (raw * 2)[at:at + batch]}).encode()
              for at in range(0, len(raw), batch)]
    with tempfile.TemporaryDirectory(prefix="profile-answer-") as folder:
        app = app_serving(model, Path(folder))
        environments = request_environments(bodies, path)
        for number in range(min(WARM_UP_CALLS, calls)):
            status = call_app(app, *environments[number % len(environments)])
            if status != 200:
                raise RuntimeError(f"the app answered {status}")
        print_cpu(calls, f"requests of {batch} claim(s) through the app",
                  lambda number: call_app(app, *environments[number % len(environments)]))
        profiler = cProfile.Profile()
        profiler.enable()
        for number in range(calls):
            call_app(app, *environments[number % len(environments)])
        profiler.disable()
    return pstats.Stats(profiler)


def print_cpu(calls: int, what: str, call) -> None:
    """CPU time (process time: on a loaded machine steadier than wall time) of call(number) for each
    number below `calls`, without the profiler: its mean, p50 and p90."""
    import time

    from benchmarks.common import percentile

    cpu = []
    for number in range(calls):
        started = time.process_time()
        call(number)
        cpu.append(time.process_time() - started)
    cpu.sort()
    print(f"{calls:,} {what}, CPU each: mean {1e3 * sum(cpu) / calls:.3f} ms, p50 {1e3 * percentile(cpu, 0.5):.3f} ms, "
          f"p90 {1e3 * percentile(cpu, 0.9):.3f} ms (process time, no profiler)")


def print_top(stats: pstats.Stats, calls: int, key: str, top: int) -> None:
    """The `top` functions by `key` ('tottime' or 'cumtime'), per answer."""
    rows = []
    for (file, line, name), (_, primitive, own, cumulative, _) in stats.stats.items():
        rows.append((own if key == "tottime" else cumulative, own, cumulative, primitive, f"{Path(file).name}:{line}({name})"))
    rows.sort(reverse=True)
    total = stats.total_tt
    print(f"\n| by {key} | calls per answer | own us per answer | under it us per answer | share of the total |")
    print("|---|---:|---:|---:|---:|")
    for _, own, cumulative, primitive, where in rows[:top]:
        print(f"| `{where}` | {primitive / calls:.1f} | {1e6 * own / calls:.1f} | {1e6 * cumulative / calls:.1f} | "
              f"{(own if key == 'tottime' else cumulative) / total:.1%} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help="a saved CoverageModel's folder (CoverageModel.save; default: the bench store's champion)")
    parser.add_argument("--history", default=None, help="the claims history to draw claims from (Parquet)")
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--explain", action=argparse.BooleanOptionalAction, default=None,
                        help="ask for the exact factors or not (default: the default answer)")
    parser.add_argument("--through-app", action="store_true",
                        help="profile the whole request through the Flask app (POST /v1/predict), not the answer alone")
    parser.add_argument("--batch", type=int, default=1,
                        help="claims per answer_claims call (with --through-app: per request)")
    options = parser.parse_args(argv)
    quiet_this_process()
    model, history = load(options.model, options.history)
    raw = request_claims(DISTINCT_CLAIMS, history)
    canonical_claims(raw)  # every drawn claim is valid: a rejected one would profile the error path
    if options.through_app:
        stats = profile_requests(model, raw, options.calls, options.explain, options.batch)
        what = f"requests of {options.batch} claim(s) (through the app"
    else:
        stats = profile(model, raw, options.calls, options.explain, options.batch)
        what = f"calls of answer_claims on {options.batch} claim(s) (validation included"
    print(f"{options.calls:,} {what}, explain={options.explain}): "
          f"{1e3 * stats.total_tt / options.calls:.3f} ms each under cProfile")
    print_top(stats, options.calls, "tottime", options.top)
    print_top(stats, options.calls, "cumtime", options.top)


if __name__ == "__main__":
    main()
