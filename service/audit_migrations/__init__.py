"""The audit database's schema, one alembic revision at a time (versions/).

Every process that opens the audit store (`AuditStore`) brings its database to the newest revision
first, under a lock, so workers and hosts starting together never race: on PostgreSQL a
transaction-scoped advisory lock (every host shares it), and the whole upgrade in that one
transaction (PostgreSQL's DDL is transactional); on SQLite a file lock beside the database (every
process using the file is on its host). A database made before migrations (its tables created with
CREATE TABLE IF NOT EXISTS, no `alembic_version` table) is adopted by revision 1, which creates only
what is missing and checks the columns of what is there: every row stays.

Adding a change (a table, a column, an index):
1. change the SQLAlchemy Core tables (`service.audit.metadata`, which the queries use);
2. `python -m alembic -c service/audit_migrations/alembic.ini revision --rev-id 0002 -m "what
   changes"` (the next number) writes versions/0002_what_changes.py after the newest; write its
   `upgrade()` with `op.*` (SQLite alters tables through `op.batch_alter_table`); never edit a
   revision that has shipped (no downgrades: roll back by restoring the database's backup);
3. tests/service/test_audit_migrations.py fails until the migrated schema equals the metadata
   (alembic's compare_metadata, on SQLite and PostgreSQL) and checks that rows survive the upgrade.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from service.background import waited_lock

SCRIPT_LOCATION = Path(__file__).resolve().parent
# pg_advisory_xact_lock's key: one 64-bit number for "the audit schema", the same on every host
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"medspa-coverage audit schema").digest()[:8], "big", signed=True)
# How long a start waits for another process's migration (which takes seconds) before it gives up
# naming that process: a lock held forever must not hang every start.
MIGRATE_LOCK_TIMEOUT_SECONDS = 120.0


def alembic_config(connection: Connection | None = None):
    from alembic.config import Config

    config = Config(str(SCRIPT_LOCATION / "alembic.ini"))
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine, sqlite_file: Path | None = None,
                    lock_timeout: float = MIGRATE_LOCK_TIMEOUT_SECONDS) -> None:
    """Bring the audit database to the newest revision, one process at a time (see the docstring);
    service.background.LockTimeout when a SQLite store's lock stays taken past `lock_timeout`."""
    from alembic import command

    with _file_lock(sqlite_file, lock_timeout), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        command.upgrade(alembic_config(connection), "head")


@contextmanager
def _file_lock(sqlite_file: Path | None, timeout: float) -> Iterator[None]:
    """A host-wide lock beside a SQLite file, owner-only (none for other databases or :memory:)."""
    if sqlite_file is None:
        yield
        return
    with waited_lock(sqlite_file.with_name(sqlite_file.name + ".migrate.lock"), timeout):
        yield
