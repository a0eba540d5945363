"""Where `medspa-coverage predict` spends its time: cProfile over `predict_file` on a claims file.

    python -m benchmarks.profile_predict [--input FILE] [--model URI --tracking-uri URI]
                                         [--output FILE] [--top N] [--threads N] [--no-profile]

Defaults: the bench store's champion and var/bench/requests-1000000.parquet (benchmarks.predict
makes both). Prints the process CPU seconds (user+sys, which a loaded machine inflates far less
than wall time), then the functions with the most time of their own and the most time under them.
cProfile slows Python calls more than numpy's or numba's, so a share is indicative only;
`--no-profile` gives the CPU seconds without its overhead. cProfile sees only the thread that
enables it, and `predict` scores its chunks on threads of their own: under cProfile the run
defaults to `--threads 1` (every chunk checked, scored and written on the main thread), so the
listing holds every stage's CPU share; `--no-profile` defaults to every core, as the command runs.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from benchmarks.common import BENCH_DIR

DEFAULT_ROWS = 1_000_000


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(BENCH_DIR / f"requests-{DEFAULT_ROWS}.parquet"))
    parser.add_argument("--model", default=None, help="model source (default: the bench champion)")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--output", default=None, help="scored file (default: a temporary .parquet)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None,
                        help="predict's threads (default: 1 under cProfile, every core with --no-profile)")
    parser.add_argument("--no-profile", action="store_true", help="CPU seconds only")
    options = parser.parse_args(argv)
    threads = options.threads or (os.cpu_count() if options.no_profile else 1)
    model, tracking_uri = options.model, options.tracking_uri
    if model is None:
        from benchmarks.common import ensure_bench_model

        bench = ensure_bench_model()
        model, tracking_uri = bench.model_uri, bench.uri
    from scoring.batch import predict_file

    with tempfile.TemporaryDirectory(prefix="profile-predict-") as scratch:
        output = Path(options.output or Path(scratch) / "scored.parquet")
        profiler = None if options.no_profile else cProfile.Profile()
        started, cpu = time.perf_counter(), cpu_seconds()
        if profiler is not None:
            profiler.enable()
        report = predict_file(options.input, output, model, tracking_uri=tracking_uri, progress=False,
                              threads=threads)
        if profiler is not None:
            profiler.disable()
        print(f"{report.rows_scored:,} scored, {report.rows_rejected:,} rejected; "
              f"{cpu_seconds() - cpu:.2f} CPU s (user+sys, all threads), {time.perf_counter() - started:.2f} s wall"
              f" on {threads} thread(s){' under cProfile' if profiler is not None else ''}")
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(options.top)
        stats.sort_stats("cumulative").print_stats(options.top)


if __name__ == "__main__":
    main()
