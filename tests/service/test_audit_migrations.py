"""The audit store's schema goes through alembic migrations (service/audit_migrations): a store
made before them is adopted with every row, the migrated schema is the one the queries use, and
processes opening a new database together migrate it once; on SQLite and PostgreSQL."""
from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from service.audit import AuditRecord, AuditStore, metadata, served_claims
from service.audit_migrations import alembic_config, upgrade_to_head
from service.background import LockTimeout
from service.outcomes.store import claim_outcomes  # noqa: F401  (its table joins the metadata compared)
from service.cds_hooks.client_jwt import cds_hook_jtis  # noqa: F401  (its table joins the metadata compared)
from service.rate_limit import rate_buckets
from service.paperwork import paperwork_records  # noqa: F401  (its table joins the metadata compared)
from service.sessions import page_sessions  # noqa: F401  (its table joins the metadata compared)

def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# What the audit store's code wrote before migrations (CREATE TABLE IF NOT EXISTS at every start),
# as SQLite holds it: the schema of revision 0001, which must adopt such a file in place.
BEFORE_MIGRATIONS = """
CREATE TABLE served_claims (
    id INTEGER NOT NULL, request_id VARCHAR(32) NOT NULL, served_at DATETIME NOT NULL, key_id VARCHAR(16) NOT NULL,
    model_name VARCHAR(200), model_version VARCHAR(64), rules_version VARCHAR(64), claim TEXT NOT NULL,
    answer TEXT NOT NULL, latency_ms FLOAT NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_served_claims_served_at ON served_claims (served_at);
CREATE TABLE write_probe (id INTEGER NOT NULL, probed_at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE TABLE rate_buckets (
    key_id VARCHAR(16) NOT NULL, requests FLOAT NOT NULL, claims FLOAT NOT NULL, updated FLOAT NOT NULL,
    PRIMARY KEY (key_id));
"""
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def _old_row(number: int) -> tuple:
    return (number, f"req{number}", "2026-11-30 09:00:00.000000", "abcd1234", "medspa-coverage", "4", "1.0+beef",
            f'{{"claim_id":"c{number}"}}', '{"decision":"uncertain"}', 2.5)


def test_a_store_made_before_migrations_is_adopted_without_losing_a_row(tmp_path):
    database = tmp_path / "audit.db"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(BEFORE_MIGRATIONS)
        connection.executemany("INSERT INTO served_claims VALUES (?,?,?,?,?,?,?,?,?,?)",
                               [_old_row(number) for number in range(1, 301)])
        connection.execute("INSERT INTO rate_buckets VALUES ('abcd1234', 12.0, 340.0, 1764493200.0)")

    store = AuditStore(f"sqlite:///{database}")
    assert current_revision(store.engine) == head_revision()
    rows = store.read_since()
    assert [row.request_id for row in rows] == [f"req{number}" for number in range(1, 301)]
    assert rows[0].claim == {"claim_id": "c1"} and rows[0].served_at == T0 and rows[0].latency_ms == 2.5
    with store.engine.connect() as connection:
        assert connection.execute(select(rate_buckets)).all() == [("abcd1234", 12.0, 340.0, 1764493200.0)]
    store.record_many([AuditRecord("req301", T0, "abcd1234", "medspa-coverage", "4", "1.0+beef", {}, {}, 1.0)])
    with store.engine.connect() as connection:  # the row ids go on where they were
        assert connection.execute(text("SELECT max(id) FROM served_claims")).scalar() == 301
    store.close()
    assert len(AuditStore(f"sqlite:///{database}").read_since()) == 301  # reopened: nothing to migrate


def test_a_table_from_an_older_release_missing_a_column_is_refused_by_name(tmp_path):
    database = tmp_path / "audit.db"
    with sqlite3.connect(database) as connection:  # rate_buckets before it counted claims
        connection.execute("CREATE TABLE rate_buckets (key_id VARCHAR(16) PRIMARY KEY, requests FLOAT, updated FLOAT)")
    with pytest.raises(RuntimeError, match=r"rate_buckets lacks the columns \['claims'\]"):
        AuditStore(f"sqlite:///{database}")


def test_the_migrated_schema_is_the_one_the_queries_use(audit_url):
    """Fails when a table or column is added to the code's tables without a migration (see
    service/audit_migrations/__init__.py: how to add one)."""
    store = AuditStore(audit_url)
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def _open(url: str, results) -> None:
    try:
        AuditStore(url).close()
        results.put("ok")
    except Exception as error:  # reported to the parent, which asserts
        results.put(f"{type(error).__name__}: {error}"[:300])


def test_processes_opening_a_new_database_together_migrate_it_once(audit_url):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=_open, args=(audit_url, results)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [results.get(timeout=5) for _ in processes] == ["ok"] * 4
    store = AuditStore(audit_url)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]


def test_the_migration_lock_is_owner_only_and_a_start_gives_up_on_a_held_one_naming_its_holder(tmp_path):
    database = tmp_path / "audit.db"
    old_umask = os.umask(0)  # the widest umask: the lock must still be private
    try:
        AuditStore(f"sqlite:///{database}").close()
    finally:
        os.umask(old_umask)
    lock = database.with_name("audit.db.migrate.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(LockTimeout, match=rf"pid {holder.pid}\b"):
            upgrade_to_head(create_engine(f"sqlite:///{database}"), database, lock_timeout=0.5)
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    upgrade_to_head(create_engine(f"sqlite:///{database}"), database, lock_timeout=5)  # free again: it proceeds


# Another process taking the lock as the probe's `nobody` did (an exclusive flock) and keeping it.
HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1])
fcntl.flock(handle, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


def _rows_at_0004(audit_url, claims: list[str]) -> None:
    """A database brought to revision 0004 (before model identities and claim ids) holding one
    served row per claim JSON in `claims`, as a host of that release wrote them."""
    from alembic import command

    database = make_url(audit_url).database
    if audit_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(audit_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0004")
        for number, claim in enumerate(claims, start=1):
            connection.execute(text(
                "INSERT INTO served_claims (request_id, served_at, key_id, model_name, model_version, rules_version, "
                "claim, answer, latency_ms) VALUES (:request, :served, 'abcd1234', 'medspa-coverage', '1', '1.0', "
                ":claim, '{}', 1.0)"), {"request": f"req{number}", "served": T0.replace(tzinfo=None), "claim": claim})
    engine.dispose()


def test_0005_copies_each_rows_claim_id_out_of_its_claim_and_leaves_identities_unrecorded(audit_url):
    long_id = "x" * 201  # longer than an outcome may carry: no outcome can meet it, so it is not indexed
    _rows_at_0004(audit_url, ['{"claim_id":"A-17","plan_type":"hmo"}', '{"claim_id":null}', '{"plan_type":"ppo"}',
                              f'{{"claim_id":"{long_id}"}}', '{"claim_id":17}', '{"claim_id":"B-2"}'])
    store = AuditStore(audit_url)
    assert current_revision(store.engine) == head_revision() == "0006"
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT claim_id FROM served_claims ORDER BY id")).scalars().all() == [
            "A-17", None, None, None, None, "B-2"]
    rows = store.read_since()
    assert {(row.model_run_id, row.model_manifest_sha256) for row in rows} == {(None, None)}
    found = store.read_claims({"B-2", "A-17", "nobody"}, T0 - timedelta(minutes=1), T0 + timedelta(hours=1))
    assert [row.request_id for row in found] == ["req1", "req6"]


def test_outcomes_find_served_claims_through_the_claim_id_index(tmp_path):
    """The query outcomes ingest runs is an index search, not a scan of the store (SQLite's plan)."""
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    window = (T0, T0 + timedelta(hours=1))
    with store.engine.connect() as connection:
        query = (select(served_claims).where(served_claims.c.claim_id.in_(["A-17", "B-2"]),
                                             served_claims.c.served_at >= window[0].replace(tzinfo=None),
                                             served_claims.c.served_at < window[1].replace(tzinfo=None)))
        compiled = query.compile(store.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "USING INDEX ix_served_claims_claim_id" in plan, plan
