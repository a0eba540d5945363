"""The audit write path on SQLite and on PostgreSQL: what each answered request costs the store.

    python -m benchmarks.audit [--requests 2000] [--writers 1 4] [--postgresql-url URL]

Each writer process does what a worker does for every single-claim request: take a rate-limit token
(`SharedRateLimiter.admit`, one UPDATE) and commit the claim's audit row with the claims charge in
one transaction (`AuditStore.record_many`), `--requests` times, with claims and answers of the
service's shape. The table gives requests per second for all writers together, the p50 / p99 of one
request's store time and the bytes a stored row takes, for 1 and 4 concurrent writers (the workers
of one host, or of several hosts sharing PostgreSQL). Without --postgresql-url a temporary server is
started from Debian's binaries, as the tests start theirs (fsync off there, so its figures are the
database's CPU cost, not a disk's; SQLite here runs as the service runs it, WAL and
synchronous=NORMAL).
"""
from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from benchmarks.common import format_table, machine_line, percentile, quiet_this_process, wait_for_quiet
from benchmarks.monitor import served_rows

DEFAULT_REQUESTS = 2_000
DEFAULT_WRITERS = (1, 4)
HEADER = ("store", "writers", "requests", "requests/s", "p50 ms", "p99 ms", "bytes a row")


def _write(url: str, writer: int, requests: int, start, results) -> None:
    from service.audit import AuditStore
    from service.rate_limit import SharedRateLimiter

    store = AuditStore(url)
    limiter = SharedRateLimiter(store.engine, 10**9, 10**9)
    key_id = f"key{writer:05d}"
    records = list(served_rows(requests, seed=writer))
    start.wait()
    seconds = []
    for record in records:
        began = time.perf_counter()
        limiter.admit(key_id)
        store.record_many([record], also=[limiter.claims_charge(key_id, 1)])
        seconds.append(time.perf_counter() - began)
    results.put(seconds)
    store.close()


def stored_bytes_per_row(url: str) -> float:
    """The audit table's size on disk (with its indexes; SQLite: the whole file) over its rows."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM served_claims")).scalar()
        if engine.dialect.name == "postgresql":
            size = connection.execute(text("SELECT pg_total_relation_size('served_claims')")).scalar()
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = Path(make_url(url).database).stat().st_size
    engine.dispose()
    return size / rows


def measure(url: str, writers: int, requests: int) -> tuple[float, float, float]:
    """(requests/s of all writers, p50 ms, p99 ms) of one run."""
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_write, args=(url, number, requests, start, results))
                 for number in range(writers)]
    for process in processes:
        process.start()
    time.sleep(2.0)  # every writer has opened the store and built its records
    wait_for_quiet()
    began = time.perf_counter()
    start.set()
    seconds = sorted(second for _ in processes for second in results.get(timeout=600))
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join(timeout=60)
    return len(seconds) / elapsed, percentile(seconds, 0.5) * 1000, percentile(seconds, 0.99) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests per writer")
    parser.add_argument("--writers", type=int, nargs="+", default=list(DEFAULT_WRITERS))
    parser.add_argument("--postgresql-url", default=None, help="an empty database (default: a temporary server)")
    options = parser.parse_args(argv)
    quiet_this_process()
    print(machine_line("audit write path: one request's rate-limit token and audit row"))
    server = None
    if options.postgresql_url is None:
        from tests.postgresql_server import start_server

        server = start_server()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-audit-") as scratch:
            for writers in options.writers:
                for backend in ("sqlite", "postgresql"):
                    if backend == "sqlite":
                        url = f"sqlite:///{Path(scratch) / f'audit-{writers}.db'}"
                    else:
                        url = options.postgresql_url or server.create_database("bench")
                    rate, p50, p99 = measure(url, writers, options.requests)
                    rows.append((backend, writers, f"{writers * options.requests:,}", f"{rate:,.0f}",
                                 f"{p50:.2f}", f"{p99:.2f}", f"{stored_bytes_per_row(url):,.0f}"))
                    print(format_table(HEADER, rows[-1:]), flush=True)
    finally:
        if server is not None:
            server.stop()
    print()
    print(format_table(HEADER, rows))


if __name__ == "__main__":
    main()
