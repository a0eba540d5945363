"""Audit retention (service.retention): rows past AUDIT_RETENTION_DAYS are deleted in the
background, the SQLite file gives the space back, and only one worker prunes at a time."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from service.audit import AuditRecord, AuditStore
from service.background import EXTENSION, exclusive
from service.retention import _lock_path, prune_expired

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
PADDING = "x" * 2000  # claims of some size, so the file's pages are worth giving back


def _records(count: int, days_ago: float) -> list[AuditRecord]:
    served_at = NOW - timedelta(days=days_ago)
    return [AuditRecord(request_id=f"r{days_ago}-{n}", served_at=served_at, key_id="abcd1234",
                        model_name="medspa-coverage", model_version="3", rules_version="1",
                        claim={"claim_id": f"c{n}", "note": PADDING}, answer={"decision": "uncertain"},
                        latency_ms=1.0) for n in range(count)]


def _pages(database) -> tuple[int, int]:
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return (connection.execute("PRAGMA page_count").fetchone()[0],
                connection.execute("PRAGMA freelist_count").fetchone()[0])


def test_rows_past_the_retention_are_deleted_and_the_space_given_back(make_app):
    app = make_app(AUDIT_RETENTION_DAYS=30)
    store = app.extensions["audit_store"]
    store.record_many(_records(1500, days_ago=45))
    store.record_many(_records(20, days_ago=29))
    database = store.sqlite_folder / "audit-0.db"
    pages_before, _ = _pages(database)
    assert prune_expired(app, now=NOW) == 1500
    assert [record.request_id.startswith("r29") for record in store.read_since()] == [True] * 20
    pages_after, free = _pages(database)
    assert free == 0 and pages_after < pages_before / 5
    assert prune_expired(app, now=NOW) == 0
    assert [job.name for job in app.extensions[EXTENSION]] == ["audit-retention"]


def test_an_older_store_without_auto_vacuum_is_vacuumed(tmp_path):
    database = tmp_path / "audit.db"
    with sqlite3.connect(database) as connection:  # a store made before incremental auto-vacuum
        connection.execute("CREATE TABLE placeholder (x)")
    store = AuditStore(f"sqlite:///{database}")
    store.record_many(_records(500, days_ago=10))
    assert store.prune_before(NOW - timedelta(days=5)) == 500
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on
    assert _pages(database)[1] == 0


def test_one_worker_prunes_at_a_time(make_app):
    app = make_app(AUDIT_RETENTION_DAYS=30)
    app.extensions["audit_store"].record_many(_records(3, days_ago=45))
    with exclusive(_lock_path(app.extensions["audit_store"])) as held:
        assert held and prune_expired(app, now=NOW) is None  # another worker holds it: skipped
    assert prune_expired(app, now=NOW) == 3


def test_zero_keeps_every_row_and_starts_no_job(make_app):
    app = make_app(AUDIT_RETENTION_DAYS=0)
    assert app.extensions.get(EXTENSION, []) == []
