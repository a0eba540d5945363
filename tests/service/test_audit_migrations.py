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
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from service.audit import AuditRecord, AuditStore, metadata
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
