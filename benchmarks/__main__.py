"""`python -m benchmarks [name ...]` (`make bench`): run every benchmark, or the named ones, in order.

Each prints its table, and the run ends with issue 27's bars that its benchmarks measured, in
one table (benchmarks/bars.py). A benchmark that fails is reported and the others still run; the exit code
is then 1. Options of a single benchmark: `python -m benchmarks.<name> --help`.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from benchmarks.bars import bars_table, recorded_bars
from benchmarks.common import keep_results, machine_line

BENCHMARKS = ("data", "predict", "spark", "train", "model_size", "memory", "serve", "slow_clients", "monitor", "audit",
              "outcomes", "first_start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    for name in names:
        started = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main([])
        except Exception:  # noqa: BLE001  (one broken benchmark must not hide the others' figures)
            traceback.print_exc()
            failed.append(name)
        print(f"\n({name}: {time.perf_counter() - started:.0f} s)\n", flush=True)
    bars = recorded_bars()
    if bars:
        keep_results("\n".join([machine_line(f"issue 27's bars, from this run of {', '.join(names)}"), bars_table(bars)]))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
