"""Where one claim's answer spends its time: cProfile over the single-claim path.

    python -m benchmarks.profile_answer [--model DIR] [--calls N] [--top N] [--explain/--no-explain]

The path is the service's without HTTP: `normalise_request_claim` (the request's validation), then
`CoverageModel.answer_claims([claim])`, one claim per call over a few hundred demo claims, after a
warm-up. Prints the functions with the most time of their own and the most time under them, with
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


def profile(model, raw: list[dict], calls: int, explain: bool | None) -> pstats.Stats:
    from service.claims import normalise_request_claim

    options = {} if explain is None else {"explain": explain}  # None: the default answer

    def one(claim):
        return model.answer_claims([normalise_request_claim(claim)], **options)

    for claim in raw[:WARM_UP_CALLS]:
        one(claim)
    profiler = cProfile.Profile()
    profiler.enable()
    for number in range(calls):
        one(raw[number % len(raw)])
    profiler.disable()
    return pstats.Stats(profiler)


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
    options = parser.parse_args(argv)
    quiet_this_process()
    model, history = load(options.model, options.history)
    raw = request_claims(DISTINCT_CLAIMS, history)
    canonical_claims(raw)  # every drawn claim is valid: a rejected one would profile the error path
    stats = profile(model, raw, options.calls, options.explain)
    print(f"{options.calls:,} answers (validation + answer_claims, explain={options.explain}): "
          f"{1e3 * stats.total_tt / options.calls:.3f} ms each under cProfile")
    print_top(stats, options.calls, "tottime", options.top)
    print_top(stats, options.calls, "cumtime", options.top)


if __name__ == "__main__":
    main()
