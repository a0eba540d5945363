"""The audit store: one row per answered claim, readable back, durable across reopening; on SQLite
and on PostgreSQL (the `audit_url` fixture) where the behaviour is not SQLite's own."""
from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from service.audit import AuditRecord, AuditStore

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def _record(number: int, served_at: datetime) -> AuditRecord:
    return AuditRecord(request_id=f"req{number}", served_at=served_at, key_id="abcd1234", model_name="medspa-coverage",
                       model_version="3", rules_version="1.0+deadbeef",
                       claim={"claim_id": f"c{number}", "benefit_limit": None, "diagnosis_codes": "G43709"},
                       answer={"decision": "likely_approved", "approval_probability": 0.91}, latency_ms=1.5)


def test_round_trip_and_reopen(audit_url):
    url = audit_url
    store = AuditStore(url)
    written = [_record(n, T0 + timedelta(minutes=n)) for n in range(3)]
    store.record_many(written)
    assert store.read_since() == written
    store.close()

    reopened = AuditStore(url)
    assert reopened.read_since() == written
    reopened.record_many([_record(3, T0 + timedelta(minutes=3))])
    assert [row.request_id for row in reopened.read_since()] == ["req0", "req1", "req2", "req3"]


def test_read_since_and_until(audit_url):
    store = AuditStore(audit_url)
    store.record_many([_record(n, T0 + timedelta(hours=n)) for n in range(5)])
    assert [r.request_id for r in store.read_since(T0 + timedelta(hours=2))] == ["req2", "req3", "req4"]
    assert [r.request_id for r in store.read_since(T0 + timedelta(hours=1), T0 + timedelta(hours=3))] == ["req1", "req2"]
    # another time zone, same instant
    later = (T0 + timedelta(hours=4)).astimezone(timezone(timedelta(hours=-5)))
    assert [r.request_id for r in store.read_since(later)] == ["req4"]
    assert store.read_since(T0)[0].served_at.tzinfo is not None


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}", sqlite_synchronous="FULL")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_nan_never_reaches_the_store_as_invalid_json(audit_url):
    store = AuditStore(audit_url)
    bad = AuditRecord(**{**_record(0, T0).__dict__, "claim": {"benefit_limit": float("nan")}})
    with pytest.raises(ValueError):
        store.record_many([bad])
    assert store.read_since() == []


def test_two_stores_on_one_database_both_write(audit_url):
    first, second = AuditStore(audit_url), AuditStore(audit_url)  # two workers
    first.record_many([_record(0, T0)])
    second.record_many([_record(1, T0)])
    assert len(first.read_since()) == 2


def test_an_unknown_synchronous_mode_is_refused(tmp_path):
    with pytest.raises(ValueError):
        AuditStore(f"sqlite:///{tmp_path / 'audit.db'}", sqlite_synchronous="OFF; DROP TABLE x")


def _open_store(path: str, results) -> None:
    from service.audit import _engine

    try:
        with _engine(f"sqlite:///{path}", "NORMAL").connect():
            results.put("ok")
    except Exception as error:  # reported to the parent, which asserts
        results.put(type(error).__name__)


def test_workers_opening_a_new_audit_file_together_all_boot(tmp_path):
    """gunicorn workers boot at once and race to switch a new file to WAL (seen failing in CI)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(10):
        path, results = tmp_path / f"audit-{attempt}.db", context.Queue()
        workers = [context.Process(target=_open_store, args=(str(path), results)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert [results.get(timeout=5) for _ in workers] == ["ok"] * 4


def test_the_store_and_its_journal_files_are_owner_only_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)  # the usual default, which leaves new files world-readable
    try:
        database = tmp_path / "new" / "audit.db"
        store = AuditStore(f"sqlite:///{database}")
        store.record_many([_record(0, T0)])
        with store.engine.connect():  # a connection is open: the -wal and -shm files exist
            journals = [database.with_name("audit.db-wal"), database.with_name("audit.db-shm")]
            assert all(journal.exists() for journal in journals)
            for path in [database, *journals]:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    finally:
        os.umask(previous)


def test_an_existing_world_readable_store_is_narrowed_when_opened(tmp_path):
    database = tmp_path / "audit.db"
    AuditStore(f"sqlite:///{database}").record_many([_record(0, T0)])
    database.chmod(0o644)
    AuditStore(f"sqlite:///{database}")
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_reading_in_chunks_gives_the_window_in_order(audit_url):
    store = AuditStore(audit_url)
    store.record_many([_record(n, T0 + timedelta(minutes=n)) for n in range(10)])
    chunks = list(store.read_chunks(T0 + timedelta(minutes=2), T0 + timedelta(minutes=9), rows=3))
    assert [[record.request_id for record in chunk] for chunk in chunks] == [
        ["req2", "req3", "req4"], ["req5", "req6", "req7"], ["req8"]]
    assert list(store.read_chunks(T0 + timedelta(days=1), T0 + timedelta(days=2))) == []


def test_a_store_that_takes_writes_has_no_unwritable_cause_and_prunes_in_batches(audit_url):
    store = AuditStore(audit_url)
    assert store.unwritable_cause() is None and store.unwritable_cause() is None  # the probe row is rewritten
    store.record_many([_record(n, T0 - timedelta(days=40)) for n in range(25)] + [_record(25, T0)])
    assert store.prune_before(T0 - timedelta(days=30), batch=10) == 25
    assert [record.request_id for record in store.read_since()] == ["req25"]


def test_another_model_under_the_same_version_is_found_by_its_run_or_its_digest(audit_url):
    from dataclasses import replace

    from scoring.model_identity import Identity

    store = AuditStore(audit_url)
    store.record_many([replace(_record(0, T0), model_run_id="run-a", model_manifest_sha256="d" * 64),
                       replace(_record(1, T0), model_version="4", model_run_id="run-z", model_manifest_sha256="f" * 64),
                       _record(2, T0)])  # a row from before identities: never another model
    assert store.other_identity("medspa-coverage", "3", Identity("run-a", "d" * 64)) is None
    for other in (Identity("run-0", "d" * 64), Identity("run-b", "d" * 64), Identity("run-a", "c" * 64),
                  Identity("run-a", "e" * 64)):
        assert store.other_identity("medspa-coverage", "3", other) == Identity("run-a", "d" * 64)
    assert store.other_identity("medspa-coverage", "3", Identity("run-b", None)) == Identity("run-a", "d" * 64)
    assert store.other_identity("medspa-coverage", "5", Identity("run-b", "e" * 64)) is None  # never served
