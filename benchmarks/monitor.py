"""How much memory `medspa-coverage monitor` takes as the audit window grows.

    python -m benchmarks.monitor [--rows 1000000] [--steps 3]

Fills a temporary audit store (SQLite, as the service writes it) with `--rows` served claims of
the service's shape (a claim and its answer with reasons, factors and advice, 1 to 10 claims a
request), then runs the serving monitor over the whole window in a fresh interpreter and reports
its peak RSS, for `--steps` window sizes up to `--rows` (each a tenth of the next). Memory flat in
the number of rows means the rows column grows by 10x while peak RSS barely moves (the monitor
keeps 8 bytes a claim for exact quantiles; the rest is counts).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import BENCH_DIR, format_table, machine_line, quiet_this_process

DEFAULT_ROWS = 1_000_000
INSERT_BATCH = 5_000

# Run in a fresh interpreter, so its peak RSS is the monitor's alone.
_MONITOR = r"""
import json, resource, sys, time
from datetime import datetime, timedelta, timezone
from service.audit import AuditStore
from service.monitoring import run_monitor
audit_url, tracking_uri, profile_file = sys.argv[1:4]
profile = json.loads(open(profile_file).read())
started = time.perf_counter()
[summary] = run_monitor(AuditStore(audit_url), tracking_uri, datetime(2026, 1, 1, tzinfo=timezone.utc),
                        datetime(2027, 1, 1, tzinfo=timezone.utc), profile_for=lambda name, version: profile)
print(json.dumps({"claims": summary.metrics["claims"], "seconds": time.perf_counter() - started,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

PROFILE = {
    "plan_type": {"kind": "categorical", "shares": {"ppo": 0.4, "hmo": 0.3, "epo": 0.2, "medicare": 0.1}},
    "in_network": {"kind": "categorical", "shares": {"True": 0.8, "False": 0.2}},
    "patient_age": {"kind": "numeric", "edges": [25.0, 35.0, 45.0, 55.0], "shares": [0.2, 0.2, 0.2, 0.2, 0.2]},
}


def served_rows(count: int, seed: int = 7):
    """Audit records shaped like the service's: a full answer per claim, requests of 1-10 claims."""
    import random
    from datetime import datetime, timedelta, timezone

    from features.contract import EXAMPLE_CLAIM
    from service.audit import AuditRecord

    rng = random.Random(seed)
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    answer = {"decision": "likely_denied", "approval_probability": 0.0, "excluded_by": [],
              "likely_denial_reasons": [{"carc": "197", "description": "Precertification / authorization absent",
                                         "probability": 0.64}] * 3,
              "factors": [{"input": "prior_authorization", "effect": -0.16, "direction": "lowers",
                           "description": "No prior authorization"}] * 5,
              "recommendations": [{"action": "obtain_prior_authorization", "probability_after": 0.18,
                                   "gain": 0.16}] * 4,
              "model": {"name": "medspa-coverage", "version": "1", "alias": "champion"}}
    written = 0
    while written < count:
        size = min(rng.randint(1, 10), count - written)
        request_id = f"{written:032x}"
        served_at = start + timedelta(seconds=written / 100)
        latency = rng.uniform(1, 50)
        for _ in range(size):
            claim = {**EXAMPLE_CLAIM, "claim_id": f"c{written}", "patient_age": rng.randint(18, 80),
                     "plan_type": rng.choice(["ppo", "hmo", "epo", "medicare", "medicaid"])}
            yield AuditRecord(request_id, served_at, "abcd1234", "medspa-coverage", "1", "bench",
                              claim, {**answer, "approval_probability": rng.random()}, latency)
            written += 1


def fill_store(url: str, rows: int) -> float:
    from service.audit import AuditStore

    store, batch, started = AuditStore(url), [], time.perf_counter()
    for record in served_rows(rows):
        batch.append(record)
        if len(batch) == INSERT_BATCH:
            store.record_many(batch)
            batch = []
    store.record_many(batch)
    store.close()
    return time.perf_counter() - started


def measure(rows: int, scratch: Path) -> tuple:
    audit_url = f"sqlite:///{scratch / f'audit-{rows}.db'}"
    fill_seconds = fill_store(audit_url, rows)
    profile_file = scratch / "profile.json"
    profile_file.write_text(json.dumps(PROFILE))
    done = subprocess.run([sys.executable, "-c", _MONITOR, audit_url, f"sqlite:///{scratch / 'mlflow.db'}",
                           str(profile_file)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["claims"] == rows, result
    database_mib = (scratch / f"audit-{rows}.db").stat().st_size / 2**20
    return (f"{rows:,}", f"{database_mib:,.0f}", f"{fill_seconds:.1f}", f"{result['seconds']:.1f}",
            f"{result['peak_rss'] / 2**20:,.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="audit rows of the largest window")
    parser.add_argument("--steps", type=int, default=3, help="window sizes, each a tenth of the next")
    options = parser.parse_args(argv)
    quiet_this_process()
    print(machine_line("serving monitor: peak memory against audit rows"))
    sizes = sorted({max(1, options.rows // 10**step) for step in range(options.steps)})
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-monitor-", dir=BENCH_DIR) as scratch:
        rows = [measure(size, Path(scratch)) for size in sizes]
    print(format_table(("audit rows", "database MiB", "fill s", "monitor s", "monitor peak RSS MiB"), rows))


if __name__ == "__main__":
    main()
