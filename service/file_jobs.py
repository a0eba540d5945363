"""Scored files: the jobs behind /v1/files, kept on disk so that every gunicorn worker sees them.

A claims file uploaded to POST /v1/files becomes a job: a folder `FILE_JOBS_DIR/<job id>/` holding
the upload, the job's state (`state.json`: status, counts, progress; no claim in it) and, once
scored, the scored file and its rejected rows. Whichever worker answers GET /v1/files/<id> reads
the state from there, so progress and summary never depend on which worker took the upload.

Scoring runs in a background thread of each worker (`run_pending`, woken by an upload and
otherwise every POLL_SECONDS), never in a request: the upload answers 202 as soon as the file is
stored and checked. A job is taken by the worker that locks its folder first (a host-wide flock,
held for the whole run), and scored by scoring.batch.predict_file, the streaming scorer of
`medspa-coverage predict`, with the worker's served model (one reference for the whole file),
one native thread, and chunks of MAX_BATCH_CLAIMS rows. Each chunk's answered claims are written
to the audit store with the rate limit's claims charge before the chunk is written to the scored
file, as a batch of that size through /v1/predict would be (its own request id, its scoring time
as latency): a file is a way to send claims, not a way around the audit or the limit. An audit
write that fails stops the job: nothing is answered unaudited.

A job whose worker died (its lock is free while its state says running) is marked failed; one
whose worker is stopping fails with `interrupted`. The files hold patient data: owner-only
(common.private_files), named by the service, never logged; the upload is deleted once
scored, each result file after its one complete download, and the whole job FILE_KEEP_MINUTES
after the upload or when its owner deletes it. Only the key that uploaded a file (a page session
acts for its key) sees its job: any other gets 404, as for a job that does not exist.
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from service.answer_audit import record_answers
from service.audit import database_error_reason
from service.background import PeriodicJob, exclusive, start_job, waited_lock
from service.model_extension import ModelUnavailable, served_identity
from scoring.batch import ScoredChunk, predict_file, rejected_path_for
from claims_io.files import ClaimsFileError
from common.private_files import make_private_dir, open_private, open_private_lock

log = logging.getLogger(__name__)

EXTENSION = "file_jobs"
JOB_ID = re.compile(r"[0-9a-f]{32}")
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
UNFINISHED = (QUEUED, RUNNING)
POLL_SECONDS = 2  # how often a worker looks for queued jobs it was not woken for, and for expired ones
STATE_FILE, LOCK_FILE, DELETED_FILE = "state.json", "lock", "deleted"
# An upload still being stored has no state yet; this file names its key, so it counts against the
# key's limit from the moment its slot is taken (three uploads at once once all passed the check).
RESERVED_FILE = "reserved"
RESERVE_LOCK = ".reserve.lock"  # in FILE_JOBS_DIR: one slot check and taking at a time on the host
RESERVE_LOCK_SECONDS = 10
INPUT_STEM, SCORED_STEM = "upload", "scored"
REASONS_LISTED = 20  # of rejected_by_reason, most frequent first: the rejected file lists every one
STATE_WRITE_SECONDS = 0.5  # progress is written at most this often (and at each end)


def limits_text(config) -> str:
    """The upload limits in words: the 413s, the OpenAPI document and the page say the same."""
    return (f"at most {config['FILE_MAX_BYTES']:,} bytes ({config['FILE_MAX_BYTES'] / 2**20:g} MiB) and "
            f"{config['FILE_MAX_ROWS']:,} rows")


class JobDeleted(Exception):
    """The job's owner deleted it while it was being scored."""


class WorkerStopping(Exception):
    """The worker scoring the job is shutting down."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class JobStore:
    """The jobs' folders: one per job, named by its id; state written whole and renamed into place."""

    def __init__(self, folder: str | Path, keep_minutes: int):
        self.folder = Path(folder)
        self.keep = timedelta(minutes=keep_minutes)

    def folder_of(self, job_id: str) -> Path:
        if not JOB_ID.fullmatch(job_id):  # the id names a folder: only the shape the service makes
            raise ValueError("not a job id")
        return self.folder / job_id

    def input_path(self, job_id: str, file_format: str) -> Path:
        return self.folder_of(job_id) / f"{INPUT_STEM}.{file_format}"

    def scored_path(self, job_id: str, file_format: str) -> Path:
        return self.folder_of(job_id) / f"{SCORED_STEM}.{file_format}"

    def rejected_path(self, job_id: str, file_format: str) -> Path:
        return rejected_path_for(self.scored_path(job_id, file_format))

    def lock_path(self, job_id: str) -> Path:
        return self.folder_of(job_id) / LOCK_FILE

    def create(self, key_id: str, file_format: str) -> dict:
        """A new job's folder (0700) and its state, not yet written: the upload is stored first."""
        make_private_dir(self.folder)
        job_id = secrets.token_hex(16)
        make_private_dir(self.folder_of(job_id))
        created = _now()
        return {"job_id": job_id, "key_id": key_id, "status": QUEUED, "format": file_format,
                "created_at": _iso(created), "expires_at": _iso(created + self.keep), "rows_total": 0,
                "rows_read": 0, "answered": 0, "rejected": 0, "reasons": {}, "decisions": {}, "error": None}

    def reserve(self, key_id: str, file_format: str, limit: int) -> dict | None:
        """A new job (as create) when `key_id` has fewer than `limit` unfinished jobs, uploads being
        stored included; else None. Counting and taking the slot is one step for every worker of
        the host (a lock in the jobs folder)."""
        make_private_dir(self.folder)
        with waited_lock(self.folder / RESERVE_LOCK, RESERVE_LOCK_SECONDS):
            if self.unfinished_of(key_id) >= limit:
                return None
            state = self.create(key_id, file_format)
            with open_private(self.folder_of(state["job_id"]) / RESERVED_FILE, "w", encoding="ascii") as handle:
                handle.write(key_id)
            return state

    def write(self, state: dict) -> None:
        folder = self.folder_of(state["job_id"])
        partial = folder / f".{STATE_FILE}.{os.getpid()}"
        with open_private(partial, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        os.replace(partial, folder / STATE_FILE)
        (folder / RESERVED_FILE).unlink(missing_ok=True)  # the state counts the job from now on

    def read(self, job_id: str) -> dict | None:
        """The job's state; None when there is no such job, or its owner deleted it."""
        try:
            folder = self.folder_of(job_id)
        except ValueError:
            return None
        if (folder / DELETED_FILE).exists():
            return None
        try:
            return json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def job_ids(self) -> list[str]:
        try:
            return sorted(entry.name for entry in self.folder.iterdir() if JOB_ID.fullmatch(entry.name))
        except FileNotFoundError:
            return []

    def jobs_of(self, key_id: str) -> list[dict]:
        """The key's jobs, newest first: not deleted, not expired (the sweep may not have run yet)."""
        states = [state for job_id in self.job_ids()
                  if (state := self.read(job_id)) and state["key_id"] == key_id and not self.expired(state, job_id)]
        return sorted(states, key=lambda state: state["created_at"], reverse=True)

    def unfinished_of(self, key_id: str) -> int:
        """Jobs of `key_id` queued or running, and its uploads still being stored."""
        return sum(1 for job_id in self.job_ids() if self._unfinished_key(job_id) == key_id)

    def _unfinished_key(self, job_id: str) -> str | None:
        state = self.read(job_id)
        if state is not None:
            return state["key_id"] if state["status"] in UNFINISHED else None
        try:  # no state: an upload being stored (its key in RESERVED_FILE), or a job deleted meanwhile
            folder = self.folder_of(job_id)
            return None if (folder / DELETED_FILE).exists() else (folder / RESERVED_FILE).read_text(encoding="ascii")
        except OSError:
            return None

    def mark_deleted(self, job_id: str) -> None:
        """Delete now when no worker is scoring the job; else leave a mark its worker stops at."""
        folder = self.folder_of(job_id)
        try:
            open_private_lock(folder / DELETED_FILE).close()  # a mark, owner-only like every file here
        except FileNotFoundError:
            return
        self.remove_unless_running(job_id)

    def remove_unless_running(self, job_id: str) -> bool:
        try:
            with exclusive(self.lock_path(job_id)) as held:
                if held:
                    self.remove(job_id)
                return held
        except FileNotFoundError:  # already gone
            return True

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.folder_of(job_id), ignore_errors=True)

    def expired(self, state: dict | None, job_id: str) -> bool:
        if state is None:  # an upload still being stored, or one that never finished: by the folder's age
            try:
                age = time.time() - self.folder_of(job_id).stat().st_mtime
            except FileNotFoundError:
                return False
            return age > self.keep.total_seconds()
        return _now() >= datetime.fromisoformat(state["expires_at"].replace("Z", "+00:00"))


def public_state(store: JobStore, state: dict) -> dict:
    """The job as GET /v1/files/<id> shows it (service.schemas.FileJob): no key id."""
    job_id, file_format, done = state["job_id"], state["format"], state["status"] == DONE
    total = state["rows_total"]
    reasons = sorted(state["reasons"].items(), key=lambda item: (-item[1], item[0]))
    return {
        "job_id": job_id, "status": state["status"], "format": file_format,
        "created_at": state["created_at"], "expires_at": state["expires_at"],
        "rows_total": total, "rows_read": state["rows_read"],
        "progress": 1.0 if done else (round(state["rows_read"] / total, 4) if total else 0.0),
        "summary": {
            "answered": state["answered"], "rejected": state["rejected"],
            "rejected_by_reason": [{"field": key.split("\t", 1)[0], "reason": key.split("\t", 1)[1], "rows": rows}
                                   for key, rows in reasons[:REASONS_LISTED]],
            "decisions": dict(sorted(state["decisions"].items())),
        },
        "error": state["error"],
        "downloads": {
            "scored": f"/v1/files/{job_id}/scored" if done and store.scored_path(job_id, file_format).exists()
            else None,
            "rejected": f"/v1/files/{job_id}/rejected" if done and store.rejected_path(job_id, file_format).exists()
            else None,
        },
    }


# -- the background runner ----------------------------------------------------------------------
def run_pending(app: Flask) -> None:
    """One pass over the jobs: delete the expired, fail the orphaned, score the queued (oldest
    first, one at a time in this worker)."""
    store: JobStore = app.extensions[EXTENSION]
    for job_id in store.job_ids():
        state = store.read(job_id)
        if store.expired(state, job_id) or (state is None and (store.folder_of(job_id) / DELETED_FILE).exists()):
            store.remove_unless_running(job_id)
        elif state is not None and state["status"] in UNFINISHED:
            _take(app, store, job_id)


def _take(app: Flask, store: JobStore, job_id: str) -> None:
    try:
        with exclusive(store.lock_path(job_id)) as held:
            if not held:
                return  # another worker is scoring it
            state = store.read(job_id)
            if state is None:
                return
            if state["status"] == RUNNING:  # locked by nobody while running: its worker died
                _fail(store, state, "interrupted", "the service stopped while scoring this file; upload it again")
            elif state["status"] == QUEUED:
                _score(app, store, state)
    except FileNotFoundError:
        return  # deleted meanwhile


def _fail(store: JobStore, state: dict, code: str, message: str) -> None:
    state.update(status=FAILED, error={"code": code, "message": message})
    for path in (store.input_path(state["job_id"], state["format"]), store.scored_path(state["job_id"], state["format"]),
                 store.rejected_path(state["job_id"], state["format"])):
        path.unlink(missing_ok=True)
    store.write(state)


def _score(app: Flask, store: JobStore, state: dict) -> None:
    job_id, file_format = state["job_id"], state["format"]
    try:
        model = app.extensions["coverage_model"].served()
    except ModelUnavailable:
        return  # stays queued until a model is loaded
    state["status"] = RUNNING
    store.write(state)
    runner = app.extensions.get(f"{EXTENSION}_runner")
    progress = _Progress(app, store, state, model, runner)
    try:
        predict_file(store.input_path(job_id, file_format), store.scored_path(job_id, file_format), model,
                     chunk_rows=app.config["MAX_BATCH_CLAIMS"], progress=False, threads=None,
                     on_chunk=progress.chunk_scored)
    except JobDeleted:
        store.remove(job_id)
        return
    except WorkerStopping:
        _fail(store, state, "interrupted", "the service stopped while scoring this file; upload it again")
        return
    except ClaimsFileError as error:  # checked at upload; a fault deeper in the file shows only now
        _fail(store, state, "invalid_file", file_error_message(error, store.input_path(job_id, file_format)))
        return
    except SQLAlchemyError as error:
        log.error("audit write failed; file job stopped", extra={"detail": database_error_reason(error)})
        _fail(store, state, "audit_unavailable", "the audit store could not be written, so scoring stopped "
                                                 "(nothing is answered unaudited); upload the file again later")
        return
    except Exception:  # noqa: BLE001  (the log has the type and stack; the job says it failed)
        log.exception("file job failed")
        _fail(store, state, "internal_error", "scoring failed; the service log has the error")
        return
    finally:
        store.input_path(job_id, file_format).unlink(missing_ok=True)
    state["status"] = DONE
    store.write(state)


class _Progress:
    """predict_file's on_chunk for one job: stop when asked, audit the chunk, count it, save progress."""

    def __init__(self, app: Flask, store: JobStore, state: dict, model, runner: PeriodicJob | None):
        self.app, self.store, self.state, self.model, self.runner = app, store, state, model, runner
        self.deleted_mark = store.folder_of(state["job_id"]) / DELETED_FILE
        self.written = 0.0
        self.chunk_started = time.perf_counter()

    def chunk_scored(self, chunk: ScoredChunk) -> None:
        if self.deleted_mark.exists():
            raise JobDeleted()
        if self.runner is not None and self.runner.stopping:
            raise WorkerStopping()
        if len(chunk.claims):
            self._audit(chunk)
        state = self.state
        state["rows_read"] = chunk.rows_read
        state["answered"] += len(chunk.claims)
        state["rejected"] = chunk.rows_read - state["answered"]
        for key, count in Counter(chunk.rejected["field"] + "\t" + chunk.rejected["reason"]).items():
            state["reasons"][key] = state["reasons"].get(key, 0) + count
        for decision, count in Counter(chunk.scores["decision"]).items():
            state["decisions"][decision] = state["decisions"].get(decision, 0) + count
        if time.monotonic() - self.written >= STATE_WRITE_SECONDS or chunk.rows_read >= state["rows_total"]:
            self.store.write(state)
            self.written = time.monotonic()
        self.chunk_started = time.perf_counter()

    def _audit(self, chunk: ScoredChunk) -> None:
        """The chunk as one request: its own request id, its scoring time as latency."""
        record_answers(self.app, request_id=uuid.uuid4().hex, key_id=self.state["key_id"],
                       latency_ms=(time.perf_counter() - self.chunk_started) * 1000,
                       claims=chunk.claims.to_dict(orient="records"),
                       answers=[_scored_row(row) for row in chunk.scores.to_dict(orient="records")],
                       model=served_identity(self.model),
                       rules_version=getattr(self.model, "rules_version", None))


def _scored_row(row: dict) -> dict:
    """A scored row as the audit keeps /invocations' rows: JSON values, NaN as null."""
    return {name: None if isinstance(value, float) and value != value else
            value.item() if hasattr(value, "item") else value for name, value in row.items()}


def file_error_message(error: ClaimsFileError, path: Path) -> str:
    """A ClaimsFileError in the words an uploader needs: no server path, no column name of theirs."""
    message = str(error).replace(f"{path}: ", "").replace(str(path), "the file")
    if "appear more than once" in message:  # that message names the file's columns: not repeated back
        return "some columns appear more than once; name each column once"
    return message


def init_app(app: Flask) -> None:
    store = JobStore(app.config["FILE_JOBS_DIR"], app.config["FILE_KEEP_MINUTES"])
    app.extensions[EXTENSION] = store
    app.extensions[f"{EXTENSION}_runner"] = start_job(app, "file-jobs", POLL_SECONDS, lambda: run_pending(app))


def wake_runner(app: Flask) -> None:
    runner = app.extensions.get(f"{EXTENSION}_runner")
    if runner is not None:
        runner.wake()
