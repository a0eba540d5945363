"""Spark's local mode beside the local engine: `medspa-coverage predict` on the same request file,
`--engine local` and `--engine spark`, each in a fresh process, file in, output out.

    python -m benchmarks.spark [--rows N] [--master URL]

Both runs count the process's whole wall time (start-up, imports, model load and verification,
read, validate, score, write; for Spark also the JVM and its Python workers). A run on 1,000
claims, nearly all fixed cost, is subtracted to show the rate at which the claims themselves go
through. On one machine Spark cannot beat the local engine: both use every core, and Spark adds
the JVM, the Arrow hand-over between the JVM and Python, and a second check of each claim inside
the MLflow model. What Spark buys is the cluster: its rate grows with the executors' cores
(docs/operations.md, "Rescoring on Spark").

The model is the bench store's champion (benchmarks.common); files live in var/bench/. Needs the
spark extra and Java 17 (`make test` installs both).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (BENCH_DIR, BenchModel, PROJECT_ROOT, bench_environment, format_table, machine_line,
                               wait_for_quiet)
from benchmarks.predict import SMALL_FILE_ROWS, prepare_files, request_file

DEFAULT_ROWS = 1_000_000
DEFAULT_MASTER = "local[*]"


def run_engine(bench: BenchModel, rows: int, engine: str, master: str) -> float:
    """Wall seconds of `predict --engine <engine>` on `rows` request claims in a fresh process;
    checks that every claim came out."""
    import pyarrow.parquet as pq

    requests = request_file(rows)
    with tempfile.TemporaryDirectory(prefix=f"bench-{engine}-", dir=BENCH_DIR) as scratch:
        output = Path(scratch) / ("scored" if engine == "spark" else "scored.parquet")
        argv = [sys.executable, "-m", "service", "predict", "--engine", engine, "--input", str(requests),
                "--output", str(output), "--model", bench.model_uri, "--tracking-uri", bench.uri, "--quiet"]
        if engine == "spark":
            argv += ["--master", master]
        wait_for_quiet()
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=PROJECT_ROOT, env=bench_environment(), capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"predict --engine {engine} failed (exit {done.returncode}):\n"
                               f"{(done.stdout + done.stderr)[-3000:]}")
        scored = pq.ParquetDataset(str(output)).read(columns=["approval_probability"]).num_rows
    if scored != rows:
        raise RuntimeError(f"predict --engine {engine} wrote {scored} of {rows} rows")
    return seconds


def engine_rows(bench: BenchModel, rows: int, engine: str, master: str) -> list[tuple]:
    small = min(SMALL_FILE_ROWS, rows)
    fixed = run_engine(bench, small, engine, master)
    seconds = run_engine(bench, rows, engine, master)
    marginal = (rows - small) / (seconds - fixed) if seconds > fixed else float("inf")
    label = f"spark, {master}" if engine == "spark" else "local"
    return [(label, f"{small:,}", f"{fixed:.2f}", f"{small / fixed:,.0f}", ""),
            (label, f"{rows:,}", f"{seconds:.2f}", f"{rows / seconds:,.0f}", f"{marginal:,.0f}")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="claims in the request file")
    parser.add_argument("--master", default=DEFAULT_MASTER, help="Spark master URL")
    options = parser.parse_args(argv)
    bench = prepare_files(options.rows)
    print(machine_line(f"spark: champion v{bench.version} of the bench store ({bench.history.name})"))
    table = [*engine_rows(bench, options.rows, "local", options.master),
             *engine_rows(bench, options.rows, "spark", options.master)]
    print(format_table(("`medspa-coverage predict --engine`", "claims", "seconds", "claims/s",
                        "claims/s beyond the fixed cost"), table))
    print(f"\nseconds: the whole process, launch to exit; the last column: (claims - {SMALL_FILE_ROWS:,}) / "
          "(seconds - the small file's seconds), the rate once the engine is up.")


if __name__ == "__main__":
    main()
