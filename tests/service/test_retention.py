"""Audit retention (service.retention): rows past AUDIT_RETENTION_DAYS are deleted in the
background, the SQLite file gives the space back, and only one worker prunes at a time."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from service.audit import AuditRecord, AuditStore
from service.background import EXTENSION
from service.retention import LOCK_NAME, prune_expired

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
    assert [job.name for job in app.extensions[EXTENSION]] == ["file-jobs", "audit-retention"]


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


def test_one_worker_prunes_at_a_time_on_every_host(make_app, audit_url):
    """The lock is the store's: beside a SQLite file, and on PostgreSQL an advisory lock every host shares."""
    app = make_app(AUDIT_RETENTION_DAYS=30, AUDIT_DATABASE_URL=audit_url)
    app.extensions["audit_store"].record_many(_records(3, days_ago=45))
    other_host = AuditStore(audit_url)
    with other_host.exclusive(LOCK_NAME) as held:
        assert held and prune_expired(app, now=NOW) is None  # another worker holds it: skipped
        with other_host.exclusive(LOCK_NAME) as again:
            assert not again  # not re-entrant, not even in one process: one holder at a time
    assert prune_expired(app, now=NOW) == 3
    with other_host.exclusive(LOCK_NAME) as held:
        assert held  # released by the one that pruned


def test_zero_keeps_every_row_and_starts_no_job(make_app):
    app = make_app(AUDIT_RETENTION_DAYS=0)
    assert [job.name for job in app.extensions.get(EXTENSION, [])] == ["file-jobs"]  # no retention job


def test_outcome_rows_follow_the_retention_by_the_time_they_were_ingested(make_app):
    from datetime import date

    from service.outcomes.records import Outcome
    from service.outcomes.store import OutcomeStore

    app = make_app(AUDIT_RETENTION_DAYS=30)
    outcomes = OutcomeStore(app.extensions["audit_store"].engine)
    ingested = datetime.now(timezone.utc)
    outcomes.add([Outcome(f"c{n}", "denied", 0.0, "50", date(2026, 3, 2)) for n in range(3)], "csv", "0" * 64)
    assert prune_expired(app, now=ingested + timedelta(days=29)) == 0 and outcomes.count() == 3
    assert prune_expired(app, now=ingested + timedelta(days=31)) == 3 and outcomes.count() == 0
