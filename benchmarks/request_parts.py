"""What each part of a single-claim request around the answer costs, by switching it off.

    python -m benchmarks.request_parts [--calls N] [--rounds N] [--no-keep]

POST /v1/predict handed to the real Flask app's WSGI callable (benchmarks.profile_answer's way:
key check, rate limit on as `serve` runs it, body, validation, audit commit, JSON, request log,
metrics), in one process, with the answer itself replaced by a copy of one real answer, so that
the parts around it are not drowned by the answer's own variation. Variants, each a fresh app and
audit store, measured in interleaved rounds (CPU time of the process per request, no profiler:
it holds on a loaded machine where wall time does not): everything on; the rate limit off; the
request log line off; the audit write off. What a part costs is the everything-on median minus
the variant's. The copy of the canned answer is timed alone and counted in every variant. The
service's log goes to /dev/null, as gunicorn's goes to a file. The HTTP stack's own cost (gunicorn,
nginx) is benchmarks.serve_profile's floor. Appended to benchmarks/RESULTS.md unless `--no-keep`.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import (ensure_bench_model, format_table, keep_results, load_bench_model, machine_line,
                               quiet_this_process, request_claims)
from benchmarks.profile_answer import BENCH_KEY, call_app, request_environments

DISTINCT_CLAIMS = 300
WARM_UP_CALLS = 300
EVERYTHING = "everything on (the answer a canned copy)"
# variant -> (app settings over `serve`'s, what is switched off around each call)
VARIANTS = {
    EVERYTHING: ({}, None),
    "rate limit off": ({"RATE_LIMIT_PER_MINUTE": 0, "RATE_LIMIT_CLAIMS_PER_MINUTE": 0}, None),
    "request log line off": ({}, "log"),
    "audit write off": ({}, "audit"),
}


def build_app(model, folder: Path, name: str, settings: dict, canned: list | None = None):
    """The service's app on `model`, its own audit store; its answers a copy of `canned` when given."""
    from scoring.artifacts import LoadedModel
    from service.app import create_app
    from service.model_loading import ServedCoverageModel

    def loader(config):
        return ServedCoverageModel(LoadedModel(model, "medspa-coverage", "1", "champion"), config)

    budget = 10**9  # on, as `serve` runs it, and out of reach
    app = create_app({"MODEL_LOADER": loader, "AUDIT_DATABASE_URL": f"sqlite:///{folder / name}.db",
                      "API_KEYS": [BENCH_KEY], "MODEL_POLL_SECONDS": 0, "RATE_LIMIT_PER_MINUTE": budget,
                      "RATE_LIMIT_CLAIMS_PER_MINUTE": budget, **settings})
    if canned is not None:
        answers, identity = canned
        app.extensions["coverage_model"].answered = lambda claims, explain=True: (
            [copy.deepcopy(answers[0]) for _ in claims], identity)
    return app


@contextmanager
def switched_off(part: str | None):
    """The request log line (the service logger's level) or the audit write (service.api's
    record_answers) off for the duration."""
    import service.api

    logger, recorded = logging.getLogger("service"), service.api.record_answers
    level = logger.level
    if part == "log":
        logger.setLevel(logging.WARNING)
    elif part == "audit":
        service.api.record_answers = lambda *args, **kwargs: None
    try:
        yield
    finally:
        logger.setLevel(level)
        service.api.record_answers = recorded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="requests per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of every variant")
    parser.add_argument("--keep", action=argparse.BooleanOptionalAction, default=True,
                        help="append the table to benchmarks/RESULTS.md")
    options = parser.parse_args(argv)
    quiet_this_process()
    bench = ensure_bench_model()
    model = load_bench_model(bench)
    raw = request_claims(DISTINCT_CLAIMS, bench.history)
    environments = request_environments([json.dumps(claim).encode() for claim in raw], "/v1/predict")
    header = machine_line(f"request_parts: a single-claim request's parts around the answer, in process (champion "
                          f"v{bench.version} of the bench store)")
    with tempfile.TemporaryDirectory(prefix="bench-request-parts-") as folder, open("/dev/null", "w") as sink:
        reference = build_app(model, Path(folder), "reference", {})
        from service.claims import normalise_claims

        canned = reference.extensions["coverage_model"].answered([normalise_claims([raw[0]])[0].claim])
        apps = {name: build_app(model, Path(folder), f"variant{number}", settings, canned)
                for number, (name, (settings, _)) in enumerate(VARIANTS.items())}
        for handler in logging.getLogger("service").handlers:
            handler.setStream(sink)
        cpu = {name: [] for name in apps}
        for number in range(WARM_UP_CALLS):
            for name, app in apps.items():
                with switched_off(VARIANTS[name][1]):
                    if call_app(app, *environments[number % len(environments)]) != 200:
                        raise RuntimeError(f"{name}: the app did not answer 200")
        for _ in range(options.rounds):
            for name, app in apps.items():
                with switched_off(VARIANTS[name][1]):
                    started = time.process_time()
                    for number in range(options.calls):
                        call_app(app, *environments[number % len(environments)])
                    cpu[name].append((time.process_time() - started) * 1000 / options.calls)
        started = time.process_time()
        for _ in range(options.calls):
            copy.deepcopy(canned[0][0])
        copying = (time.process_time() - started) * 1000 / options.calls
    medians = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
    rows = [(name, " / ".join(f"{value:.3f}" for value in cpu[name]), f"{medians[name]:.3f}",
             "" if name == EVERYTHING else f"{medians[EVERYTHING] - medians[name]:.3f}") for name in apps]
    rows.append(("(the canned answer's copy, in every variant)", "", f"{copying:.3f}", ""))
    text = "\n".join([
        header,
        f"{options.calls:,} requests per variant and round, {options.rounds} interleaved rounds; CPU ms per request "
        "(process time, no profiler).\n",
        format_table(("variant", "CPU ms/request, each round", "median", "the part costs (ms)"), rows),
    ])
    keep_results(text, options.keep)


if __name__ == "__main__":
    main()
