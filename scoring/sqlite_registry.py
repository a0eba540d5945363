"""A `models:/` URI resolved on a local sqlite store without importing MLflow.

Importing mlflow and opening its SQLAlchemy store costs a batch job a large share of its start-up
(`python -X importtime`; benchmarks/RESULTS.md), for three rows of the registry: the alias (or the
version number), the version's files and its `model_manifest` tag. On a `sqlite:///` store whose
version keeps its files in a local folder (`file://`, the project's layout), those rows are read
here read-only with the standard library, straight from the registry's own tables, so the answer
is the registry's as it stands now: nothing is cached, so nothing can go stale.

Anything this does not recognise answers None and the caller asks MLflow as before: another
store, a missing database, files kept elsewhere, the `latest` alias, a table or column MLflow has
renamed, a name or alias matched by more than one row, a registry with more than MLflow's default
workspace, a version deleted or
not READY. MLflow also gives the error messages for a missing model, alias or version. The files
are then verified against the manifest tag exactly as after MLflow's download
(scoring.artifacts.verify_logged_model). tests/scoring/test_sqlite_registry.py checks both
answers agree on a real store.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from scoring.mlflow_store import sqlite_path

LATEST = "latest"  # MLflow's reserved alias: the highest version, worked out by MLflow itself
DELETED_STAGE = "Deleted_Internal"  # how MLflow's SQL store marks a deleted version
READY = "READY"
WORKSPACE_COLUMN, DEFAULT_WORKSPACE = "workspace", "default"  # MLflow 3's workspaces


@dataclass(frozen=True)
class RegisteredFiles:
    """What the registry says of one model version: enough to copy and verify its files."""

    name: str
    version: str
    run_id: str | None
    folder: Path  # the version's artifacts (the logged MLflow model)
    tags: dict = field(default_factory=dict)
    run_metrics: dict = field(default_factory=dict)  # the run's latest metrics, as client.get_run gives them


def resolve_locally(uri: str, tracking_uri: str) -> RegisteredFiles | None:
    """The version `models:/name@alias` or `models:/name/N` names on a sqlite store, or None
    when this module cannot answer for certain (the caller then asks MLflow)."""
    database = sqlite_path(tracking_uri)
    if database is None or not database.is_file() or not uri.startswith("models:/"):
        return None
    name, _, alias = uri[len("models:/"):].partition("@")
    name, _, number = name.partition("/")
    if not name or (not alias and not number.isdigit()) or alias.lower() == LATEST:
        return None
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return _read(connection, name, alias, number)
    except sqlite3.Error:  # a schema this module does not know: MLflow reads it
        return None
    finally:
        connection.close()


def _one(rows: list) -> tuple | None:
    return rows[0] if len(rows) == 1 else None


def _outside_default_workspace(connection: sqlite3.Connection) -> bool:
    """Whether the registry holds anything outside MLflow's default workspace (its workspaces
    feature): which workspace a name means is then MLflow's call."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(model_versions)")}
    return WORKSPACE_COLUMN in columns and connection.execute(
        f"SELECT 1 FROM model_versions WHERE {WORKSPACE_COLUMN} != ? LIMIT 1", (DEFAULT_WORKSPACE,)).fetchone() is not None


def _read(connection: sqlite3.Connection, name: str, alias: str, number: str) -> RegisteredFiles | None:
    if _outside_default_workspace(connection):
        return None
    if alias:
        found = _one(connection.execute("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                                        (name, alias)).fetchall())
        if found is None:
            return None
        number = str(found[0])
    row = _one(connection.execute(
        "SELECT run_id, storage_location, source, current_stage, status FROM model_versions "
        "WHERE name = ? AND version = ?", (name, int(number))).fetchall())
    if row is None:
        return None
    run_id, storage, source, stage, status = row
    if stage == DELETED_STAGE or status != READY:
        return None
    folder = _local_folder(storage or source)
    if folder is None:
        return None
    tags = dict(connection.execute("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                                   (name, int(number))).fetchall())
    metrics = {key: float("nan") if is_nan else value for key, value, is_nan in connection.execute(
        "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (run_id,)).fetchall()} if run_id else {}
    return RegisteredFiles(name, number, run_id, folder, tags, metrics)


def _local_folder(location: str | None) -> Path | None:
    """The folder a `file://` storage location names, when it is one here."""
    if not location or not location.startswith("file://"):
        return None
    parsed = urlparse(location)
    if parsed.netloc not in ("", "localhost"):
        return None
    folder = Path(unquote(parsed.path))
    return folder if folder.is_dir() else None
