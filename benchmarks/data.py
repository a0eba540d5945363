"""How fast demo history is written and loaded: 1,000,000 claims as CSV and as Parquet.

    python -m benchmarks.data [--rows N]

Each step (generate with `training.demo.generator.generate_history`, load with
`claims_io.loading.load_claims`) runs in a fresh process, so its peak RSS is its own; the seconds
exclude interpreter start-up and imports. Files go to a temporary folder, removed at the end.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.common import format_table, machine_line, quiet_this_process

DEFAULT_ROWS = 1_000_000
FORMATS = ("csv", "parquet")


def _generate(path: str, rows: int) -> int:
    from training.demo.generator import generate_history

    return generate_history(rows, 0, path, progress=False).rows


def _load(path: str, rows: int) -> int:
    from claims_io.loading import load_claims

    kept = load_claims(path).report.rows_kept
    if kept != rows:
        raise RuntimeError(f"{Path(path).name}: {kept} of {rows} rows loaded; the benchmark expects all")
    return kept


def _run_step(step, path: str, rows: int, results) -> None:
    import pandas  # noqa: F401  (import cost is not what is measured)
    import pyarrow  # noqa: F401

    started = time.perf_counter()
    done = step(path, rows)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    results.put((done, seconds, peak_kib / 1024))


def measure(step, path: str, rows: int) -> tuple[int, float, float]:
    """Run one step in a fresh process: (rows, seconds, peak RSS in MiB)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_run_step, args=(step, path, rows, results))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{step.__name__} {Path(path).name} failed (exit code {process.exitcode})")
    return results.get()


def format_lines(lines: list[tuple]) -> str:
    header = ("step", "format", "rows", "seconds", "rows/s", "peak RSS MiB", "file MiB")
    return format_table(header, [(step, fmt, f"{rows:,}", f"{seconds:.2f}", f"{rows / seconds:,.0f}", f"{rss:.0f}",
                                  f"{size:.1f}") for step, fmt, rows, seconds, rss, size in lines])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    rows = parser.parse_args(argv).rows
    quiet_this_process()
    print(machine_line(f"data: {rows:,} demo claims written and loaded, each step in a fresh process"))
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-data-") as folder:
        paths = {fmt: str(Path(folder) / f"history.{fmt}") for fmt in FORMATS}
        for step in (_generate, _load):
            for fmt, path in paths.items():
                done, seconds, rss = measure(step, path, rows)
                size = os.path.getsize(path) / 2**20
                lines.append((step.__name__.lstrip("_"), fmt, done, seconds, rss, size))
    print(format_lines(lines))


if __name__ == "__main__":
    main()
