"""`medspa-coverage outcomes ingest` against the audit store's size: time and memory should not grow with it.

    python -m benchmarks.outcomes [--rows 10000 1000000] [--outcomes 2000]

Fills a temporary audit store (SQLite, as the service writes it) for each `--rows` with served
claims of the service's shape (benchmarks.monitor's), writes one outcome file of `--outcomes`
rows, half for claims every store served and half for claims none did, and ingests it into each
store in a fresh interpreter, reporting its wall time and peak RSS. Ingest finds the file's claims
through the audit store's index on the claim id (migration 0005), so the figures of a store of a
million rows should be those of ten thousand.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import BENCH_DIR, format_table, machine_line, quiet_this_process, wait_for_quiet
from benchmarks.monitor import fill_store

DEFAULT_ROWS = (10_000, 1_000_000)
DEFAULT_OUTCOMES = 2_000

# Run in a fresh interpreter, so its peak RSS is the ingest's alone.
_INGEST = r"""
import json, resource, sys, time
from service.audit import AuditStore
from service.outcomes.ingest import ingest_outcomes
audit_url, outcome_file = sys.argv[1:3]
store = AuditStore(audit_url)
started = time.perf_counter()
report = ingest_outcomes(outcome_file, store)
print(json.dumps({"added": report.added, "unmatched": report.unmatched, "seconds": time.perf_counter() - started,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def write_outcome_file(path: Path, outcomes: int) -> Path:
    """Half the rows for claims c0, c2, ... (served by every store of 10,000 rows or more), half
    for claim ids no store holds."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("claim_id", "outcome", "paid_amount", "denial_reason", "adjudication_date"))
        for number in range(outcomes):
            claim_id = f"c{number * 2}" if number % 2 == 0 else f"never-served-{number}"
            writer.writerow((claim_id, "denied", "0", "197", "2026-07-01"))
    return path


def measure(rows: int, outcome_file: Path, scratch: Path, outcomes: int) -> tuple:
    audit_url = f"sqlite:///{scratch / f'audit-{rows}.db'}"
    fill_seconds = fill_store(audit_url, rows)
    wait_for_quiet()
    done = subprocess.run([sys.executable, "-c", _INGEST, audit_url, str(outcome_file)], capture_output=True,
                          text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["added"] + result["unmatched"] == outcomes, result
    database_mib = (scratch / f"audit-{rows}.db").stat().st_size / 2**20
    return (f"{rows:,}", f"{database_mib:,.0f}", f"{fill_seconds:.1f}", f"{result['added']:,}",
            f"{result['unmatched']:,}", f"{result['seconds']:.2f}", f"{result['peak_rss'] / 2**20:,.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outcomes", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(DEFAULT_ROWS), help="audit rows of each store")
    parser.add_argument("--outcomes", type=int, default=DEFAULT_OUTCOMES, help="rows of the outcome file")
    options = parser.parse_args(argv)
    quiet_this_process()
    print(machine_line(f"outcomes ingest of {options.outcomes:,} outcomes against audit rows"))
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-outcomes-", dir=BENCH_DIR) as scratch:
        outcome_file = write_outcome_file(Path(scratch) / "outcomes.csv", options.outcomes)
        rows = [measure(size, outcome_file, Path(scratch), options.outcomes) for size in sorted(options.rows)]
    print(format_table(("audit rows", "database MiB", "fill s", "recorded", "unmatched", "ingest s",
                        "ingest peak RSS MiB"), rows))


if __name__ == "__main__":
    main()
