"""The audit store: one row per answered claim, committed before the response is sent.

This is where claims and answers are kept (the operational log holds none). SQLAlchemy Core on
SQLite by default, in WAL mode, where a committed row survives kill -9 of the server
(`synchronous=NORMAL`; `FULL` also survives power loss), or PostgreSQL
(`postgresql+psycopg://user@host/db`), which several hosts share. Opening the store brings its
schema to the newest migration first (service/audit_migrations: the tables below are what the
queries use, the migrations are how a database gets them). A row records the answering model's
run id and manifest digest beside its version (scoring.model_identity: a version number repeats
across tracking stores) and the claim's id in an indexed column, by which outcomes find their
claims (`read_claims`). The monitor reads it back with `read_since`; `prune_before` deletes what is older than the retention (service.retention).
A SQLite store and its journal files are owner-only (0600; a folder made for it
0700): they hold patient data.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import (BigInteger, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text,
                        create_engine, delete, event, func, insert, select, text, update)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from service.audit_migrations import upgrade_to_head
from service.background import exclusive
from service.errors import APIError
from service.outcomes.records import MAX_CLAIM_ID_LENGTH
from common.private_files import PRIVATE_FILE_MODE, create_private_file
from scoring.model_identity import Identity

metadata = MetaData()
served_claims = Table(
    "served_claims",
    metadata,
    # BIGINT on PostgreSQL (years of rows pass 2^31); SQLite's INTEGER rowid, which alone autoincrements there
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("request_id", String(32), nullable=False),
    Column("served_at", DateTime, nullable=False),  # UTC
    Column("key_id", String(16), nullable=False),
    Column("model_name", String(200)),
    Column("model_version", String(64)),
    Column("rules_version", String(64)),
    Column("claim", Text, nullable=False),  # the canonical claim, JSON
    Column("answer", Text, nullable=False),  # the answer sent, JSON
    Column("latency_ms", Float, nullable=False),
    # What the model is beside its number (scoring.model_identity): null in rows from before migration 0005
    Column("model_run_id", String(64)),
    Column("model_manifest_sha256", String(64)),
    # The claim's own id, indexed, so outcomes meet their served claims by index (null: none, or one
    # longer than an outcome may carry, which no outcome can meet)
    Column("claim_id", String(MAX_CLAIM_ID_LENGTH)),
)
Index("ix_served_claims_served_at", served_claims.c.served_at)
Index("ix_served_claims_claim_id", served_claims.c.claim_id)
# The swap's check that a version's rows were all served by one model: index ranges, not a scan
Index("ix_served_claims_model_identity", served_claims.c.model_name, served_claims.c.model_version,
      served_claims.c.model_run_id, served_claims.c.model_manifest_sha256)
# One row the readiness check rewrites: can the store take a write now? (no claim in it)
write_probe = Table(
    "write_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("probed_at", DateTime, nullable=False),
)
_INSERT_SERVED = insert(served_claims)  # built once: an answer's audit write is on every request's path
INCREMENTAL_AUTO_VACUUM = 2  # SQLite's PRAGMA auto_vacuum value for INCREMENTAL
REQUEST_BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another worker's lock
PROBE_BUSY_TIMEOUT_MS = 2000  # a probe waits this long for a lock, not a request's 10 s
POSTGRESQL_PROBE_TIMEOUT = "2s"  # the same bound on PostgreSQL (statement_timeout of the probe's transaction)


@dataclass(frozen=True)
class AuditRecord:
    request_id: str
    served_at: datetime  # timezone-aware UTC
    key_id: str
    model_name: str | None
    model_version: str | None
    rules_version: str | None
    claim: dict
    answer: dict
    latency_ms: float
    model_run_id: str | None = None
    model_manifest_sha256: str | None = None
    answer_json: str | None = None  # `answer` as compact_json wrote it, when the caller already has it


def compact_json(value) -> str:
    """A claim or an answer as the audit store keeps it; an answer's text is also the bytes
    /v1/predict sends (service.api), so an answer is written out once."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


class AuditStore:
    def __init__(self, url: str, sqlite_synchronous: str = "NORMAL"):
        if sqlite_synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError("sqlite_synchronous: must be NORMAL, FULL or EXTRA")
        self.url = url
        self.engine = _engine(url, sqlite_synchronous)
        upgrade_to_head(self.engine, self.sqlite_file)  # under a lock: workers and hosts may start together

    def unwritable_cause(self, min_free_bytes: int = 0) -> str | None:
        """None when the store takes a write now; else why not, in words with no data in them: a
        SQLite file's disk with less than `min_free_bytes` free, or the error of a probe write."""
        folder = self.sqlite_folder
        if folder is not None and min_free_bytes:
            free = shutil.disk_usage(folder).free
            if free < min_free_bytes:
                return (f"low free disk: {free // 2**20} MiB free where the audit store is, "
                        f"under the {min_free_bytes // 2**20} MiB required")
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        try:
            with self.engine.begin() as connection:
                if folder is not None:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={PROBE_BUSY_TIMEOUT_MS}")
                elif connection.dialect.name == "postgresql":  # SET LOCAL: this transaction only
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = '{POSTGRESQL_PROBE_TIMEOUT}'")
                try:
                    if not connection.execute(update(write_probe).where(write_probe.c.id == 1)
                                              .values(probed_at=now)).rowcount:
                        connection.execute(insert(write_probe).values(id=1, probed_at=now))
                finally:
                    if folder is not None:
                        connection.exec_driver_sql(f"PRAGMA busy_timeout={REQUEST_BUSY_TIMEOUT_MS}")
        except SQLAlchemyError as error:
            return f"probe write failed: {type(error).__name__}: {database_error_reason(error)}"
        return None

    @property
    def sqlite_file(self) -> Path | None:
        """The file of a SQLite store, else None (another database, or SQLite in memory)."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).resolve()
        return None

    @property
    def sqlite_folder(self) -> Path | None:
        """The folder of a SQLite file store (where its disk space is measured), else None."""
        database = self.sqlite_file
        return None if database is None else database.parent

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A non-blocking lock called `name` for the work one process at a time does on this store
        (retention, the scheduled monitor): True when this process holds it. On PostgreSQL an
        advisory lock, which every host using the database shares; else a file lock beside a SQLite
        file (or in the temporary folder), which the processes of one host share."""
        if self.engine.dialect.name != "postgresql":
            folder = self.sqlite_folder or Path(tempfile.gettempdir())
            digest = hashlib.sha256(f"{self.url}|{name}".encode()).hexdigest()[:16]
            with exclusive(folder / f".audit-{name}-{digest}.lock") as held:
                yield held
            return
        key = int.from_bytes(hashlib.sha256(f"medspa-coverage {name}".encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as connection:
            held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            connection.commit()
            try:
                yield held
            finally:
                if held:  # a session lock outlives transactions: released here, not left in the pool
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()

    def record_many(self, records: list[AuditRecord], also=()) -> None:
        """Write the rows in one transaction, with the (statement, values) pairs in `also` (the rate
        limit's claims charge); returns once they are committed."""
        if not records:
            return
        # vars(), not asdict(): asdict deep-copies every claim and answer only for json.dumps to read them
        rows = [{**vars(record),
                 "served_at": record.served_at.astimezone(timezone.utc).replace(tzinfo=None),
                 "claim": compact_json(record.claim),
                 "answer": record.answer_json or compact_json(record.answer),
                 "claim_id": indexed_claim_id(record.claim.get("claim_id"))}
                for record in records]
        for row in rows:
            del row["answer_json"]
        with self.engine.begin() as connection:
            connection.execute(_INSERT_SERVED, rows)
            for statement in also:
                if statement is not None:
                    connection.execute(*statement)

    def prune_before(self, cutoff: datetime, batch: int = 10_000, dated=()) -> int:
        """Delete the rows served before `cutoff`, and the rows of each table a column of `dated`
        dates before it, `batch` at a time (each a short write lock, so answers keep being audited
        meanwhile); then give a SQLite file's space back. Returns the count of every table's rows."""
        deleted = 0
        for column in (served_claims.c.served_at, *dated):
            table = column.table
            while True:
                oldest = (select(table.c.id).where(column < _naive_utc(cutoff)).order_by(table.c.id).limit(batch))
                with self.engine.begin() as connection:
                    count = connection.execute(delete(table).where(table.c.id.in_(oldest.scalar_subquery()))).rowcount
                deleted += count
                if count < batch:
                    break
        if deleted and self.sqlite_folder is not None:
            self._give_space_back()
        return deleted

    def _give_space_back(self) -> None:
        """Stores made here run in incremental auto-vacuum: freed pages are returned in place. An
        older store is switched to it with one VACUUM (which rewrites the file, once)."""
        with self.engine.connect() as connection:
            sqlite_connection = connection.connection.driver_connection
            if connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == INCREMENTAL_AUTO_VACUUM:
                # executescript steps the pragma to the end; execute() would free one page per call
                sqlite_connection.executescript("PRAGMA incremental_vacuum;")
            else:
                sqlite_connection.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")

    def read_since(self, since: datetime | None = None, until: datetime | None = None) -> list[AuditRecord]:
        """Rows served at or after `since` (and before `until`), oldest first."""
        query = select(served_claims).order_by(served_claims.c.id)
        if since is not None:
            query = query.where(served_claims.c.served_at >= _naive_utc(since))
        if until is not None:
            query = query.where(served_claims.c.served_at < _naive_utc(until))
        with self.engine.connect() as connection:
            return [_from_row(row) for row in connection.execute(query).mappings()]

    def read_chunks(self, since: datetime, until: datetime, rows: int = 10_000) -> Iterator[list[AuditRecord]]:
        """The rows served in [since, until) in insertion order, at most `rows` at a time, so a
        reader of millions of rows holds one chunk (the monitor). Ranges of the primary key between
        the window's first and last row, each filtered by time: every step is an index range."""
        window = (served_claims.c.served_at >= _naive_utc(since), served_claims.c.served_at < _naive_utc(until))
        with self.engine.connect() as connection:
            first, last = connection.execute(select(func.min(served_claims.c.id), func.max(served_claims.c.id))
                                             .where(*window)).one()
        if first is None:
            return
        for start in range(first, last + 1, rows):
            query = (select(served_claims).where(served_claims.c.id >= start, served_claims.c.id < start + rows,
                                                 *window).order_by(served_claims.c.id))
            with self.engine.connect() as connection:
                chunk = [_from_row(row) for row in connection.execute(query).mappings()]
            if chunk:
                yield chunk

    def read_claims(self, claim_ids, since: datetime, until: datetime, batch: int = 500) -> Iterator[AuditRecord]:
        """The rows served in [since, until) for these claim ids, `batch` ids at a time through the
        claim id's index, each batch's rows in insertion order: time and memory follow the ids
        asked for, not the store's size. Ids no audit row could hold (too long) are skipped."""
        ids = sorted({claim_id for claim_id in claim_ids if indexed_claim_id(claim_id) is not None})
        window = (served_claims.c.served_at >= _naive_utc(since), served_claims.c.served_at < _naive_utc(until))
        for start in range(0, len(ids), batch):  # a bounded IN list, as OutcomeStore.add's
            query = (select(served_claims).where(served_claims.c.claim_id.in_(ids[start:start + batch]), *window)
                     .order_by(served_claims.c.id))
            with self.engine.connect() as connection:
                rows = [_from_row(row) for row in connection.execute(query).mappings()]
            yield from rows

    def other_identity(self, name: str, version: str, identity: Identity) -> Identity | None:
        """An identity recorded for `name` version `version` that is another model than `identity`
        (scoring.model_identity), or None. Index ranges either side of the identity's run and, within
        its run, of its digest: the same few look-ups whatever the number of rows."""
        if identity.run_id is None:
            return None
        column = served_claims.c
        same_version = (column.model_name == name, column.model_version == str(version))
        run, digest = column.model_run_id, column.model_manifest_sha256
        conditions = [run < identity.run_id, run > identity.run_id]
        if identity.manifest_sha256 is not None:
            conditions += [(run == identity.run_id) & (digest < identity.manifest_sha256),
                           (run == identity.run_id) & (digest > identity.manifest_sha256)]
        with self.engine.connect() as connection:
            for condition in conditions:
                found = connection.execute(select(column.model_run_id, column.model_manifest_sha256)
                                           .where(*same_version, condition).limit(1)).first()
                if found is not None:
                    return Identity(*found)
        return None

    def close(self) -> None:
        self.engine.dispose()


class AuditUnavailable(APIError):
    """The answer when the audit store cannot take a write: nothing is answered unaudited."""

    def __init__(self):
        super().__init__(503, "audit_unavailable", "the audit store cannot be written (the service log says why); "
                         "nothing is answered unaudited", headers={"Retry-After": "5"})


def _from_row(row) -> AuditRecord:
    return AuditRecord(
        request_id=row["request_id"], served_at=row["served_at"].replace(tzinfo=timezone.utc),
        key_id=row["key_id"], model_name=row["model_name"], model_version=row["model_version"],
        rules_version=row["rules_version"], claim=json.loads(row["claim"]), answer=json.loads(row["answer"]),
        latency_ms=row["latency_ms"], model_run_id=row["model_run_id"],
        model_manifest_sha256=row["model_manifest_sha256"])


def indexed_claim_id(claim_id) -> str | None:
    """The claim id as the audit row indexes it: a text an outcome may carry, else None."""
    return claim_id if isinstance(claim_id, str) and 0 < len(claim_id) <= MAX_CLAIM_ID_LENGTH else None


def database_error_reason(error: Exception) -> str:
    """The driver's own words for a database error ("database or disk is full"), without the
    statement and parameters SQLAlchemy adds to its message (they may be claims)."""
    original = getattr(error, "orig", None)
    return str(original) if original is not None else type(error).__name__


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment  # taken as UTC already
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _switch_to_wal(cursor, attempts: int = 100) -> None:
    """Workers booting together on a new file race to switch it to WAL; SQLite answers the
    loser "database is locked" at once, without its busy handler, so wait and try again."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _make_private(database: Path) -> None:
    """The database file owner-only before SQLite opens it (its folder 0700 when made here): SQLite
    gives the -wal and -shm files it creates the database's mode. Journals left by an older,
    wider-open store are narrowed too."""
    create_private_file(database)
    for journal in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if journal.exists():
            journal.chmod(PRIVATE_FILE_MODE)


def _engine(url: str, sqlite_synchronous: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        _make_private(Path(parsed.database))
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={REQUEST_BUSY_TIMEOUT_MS}")  # first: the pragmas below may wait
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file only: pruning frees space
        _switch_to_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.close()

    return engine
