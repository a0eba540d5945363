"""/v1/files: score a claims file (CSV or Parquet) in the background, then download the results.

    POST   /v1/files                  the file as the body -> 202, the job (service.schemas.FileJob)
    GET    /v1/files                  the caller's jobs, newest first (service.schemas.FileJobList)
    GET    /v1/files/<job_id>         the job: status, progress, summary, download links
    GET    /v1/files/<job_id>/scored  the scored file, once (then it is deleted)
    GET    /v1/files/<job_id>/rejected  the rejected rows (CSV), once
    DELETE /v1/files/<job_id>         stop scoring and delete the job and its files now

The body is the file itself, declared by its media type (`text/csv` or
`application/vnd.apache.parquet`), not a multipart form: it is streamed straight into an
owner-only file and counted as it arrives, so no form parser spools it to a temporary file of its
own, and any client can send it (`curl --data-binary @claims.csv -H 'Content-Type: text/csv'`).
Before answering 202 the upload is read through once by the same reader that will score it, so a
file that is not CSV or Parquet, lacks a required column, has more columns, longer cells or values
of other types than a claims file may (claims_io.files), or holds more than FILE_MAX_ROWS rows or
FILE_MAX_DECODED_BYTES once decoded (a compressed file is measured from its metadata and while it
is read, never expanded whole) is refused here with a 4xx that says so; faults of single rows
only reject those rows.

Authentication as every /v1 route (service.auth): an API key, or the page's session with its
CSRF token on POST and DELETE. The job id is the one variable in a URL of this service: 32 hex
digits the service drew, checked before it names a folder (service.file_jobs.JobStore).
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, jsonify
from flask import request as flask_request

from service.request_body import copy_body
from service.auth import identify_client, require_api_key
from service.errors import APIError, field_error
from service.file_jobs import (DONE, EXTENSION, FAILED, JobStore, file_error_message, limits_text, public_state,
                               wake_runner)
from service.upload_admission import UNFINISHED_JOBS_PER_KEY, admission_answer, is_admission
from service import file_jobs
from claims_io.files import ClaimsFileError, ClaimsFileTooLarge, ReadLimits, open_claims_file
from claims_io.loading import missing_columns
from common.private_files import open_private

bp = Blueprint("files", __name__)


@bp.before_request
def _authenticate() -> None:
    """The key as every /v1 route; nginx's admission of an upload (service.upload_admission) checks
    the key alone: the rate limit counts the upload itself, once."""
    if is_admission():
        identify_client()
    else:
        require_api_key()


bp.after_request(admission_answer)

# media type -> file format; the format's name is the upload's and the scored file's file ending
MEDIA_TYPES = {"text/csv": "csv", "application/vnd.apache.parquet": "parquet"}
FORMAT_MEDIA_TYPES = {file_format: media_type for media_type, file_format in MEDIA_TYPES.items()}
COUNT_CHUNK_ROWS = 20_000  # rows read at a time while an upload is checked


def _store() -> JobStore:
    return current_app.extensions[EXTENSION]


def _too_large(requirement: str) -> APIError:
    return APIError(413, "file_too_large", f"a claims file may hold {limits_text(current_app.config)}; split it, "
                                           "or score it with `medspa-coverage predict`",
                    [field_error("file", requirement)])


def _too_many_jobs() -> APIError:
    return APIError(429, "too_many_file_jobs", f"this API key already has {UNFINISHED_JOBS_PER_KEY} files queued or "
                                               "being scored; wait until one is done, or delete one",
                    headers={"Retry-After": "5"})


def _file_too_large() -> APIError:
    return _too_large(f"must be at most {current_app.config['FILE_MAX_BYTES']:,} bytes")


@bp.post("/v1/files")
def upload():
    file_format = MEDIA_TYPES.get(flask_request.mimetype)
    if file_format is None:
        raise APIError(415, "unsupported_media_type", "the body must be a claims file, sent as itself: "
                                                      "Content-Type text/csv or application/vnd.apache.parquet")
    store, key_id = _store(), g.key_id
    if is_admission():  # nginx asks before it reads the body: the job limit now, then again atomically
        if store.unfinished_of(key_id) >= UNFINISHED_JOBS_PER_KEY:
            raise _too_many_jobs()
        return Response(status=204)
    state = store.reserve(key_id, file_format, UNFINISHED_JOBS_PER_KEY)
    if state is None:
        raise _too_many_jobs()
    path = store.input_path(state["job_id"], file_format)
    try:
        with open_private(path, "wb") as handle:
            size = copy_body(handle.write, current_app.config["FILE_MAX_BYTES"], _file_too_large)
        if not size:
            raise APIError(422, "invalid_file", "the body is empty: send the claims file as the body",
                           [field_error("file", "must be a CSV or Parquet claims file with a header row")])
        state["rows_total"] = _checked_rows(path)
    except BaseException:
        store.remove(state["job_id"])
        raise
    store.write(state)
    wake_runner(current_app._get_current_object())
    g.log_counts = {"rows": state["rows_total"]}
    response = jsonify(public_state(store, state))
    response.status_code = 202
    response.headers["Location"] = f"/v1/files/{state['job_id']}"
    return response


def _checked_rows(path: Path) -> int:
    """The upload's data rows, read through once as predict_file will read it; 422 or 413 when it
    cannot be scored as a whole."""
    config = current_app.config
    limits = ReadLimits(rows=config["FILE_MAX_ROWS"], decoded_bytes=config["FILE_MAX_DECODED_BYTES"])
    try:
        claims = open_claims_file(path, COUNT_CHUNK_ROWS, limits)
        missing = missing_columns(claims.columns, history=False)
        if missing:
            raise APIError(422, "invalid_file", "the file lacks columns the claims contract requires",
                           [field_error("file", f"missing required column(s): {', '.join(missing)}")])
        return sum(len(chunk) for chunk in claims.chunks)
    except ClaimsFileTooLarge as error:
        raise _too_large(f"must hold at most {limits.rows:,} data rows" if error.bound == "rows" else
                         f"must decode to at most {limits.decoded_bytes:,} bytes") from None
    except ClaimsFileError as error:
        raise APIError(422, "invalid_file", "the file cannot be read as a claims file of the declared type",
                       [field_error("file", file_error_message(error, path))]) from None


def _owned(job_id: str) -> dict:
    """The caller's job, or 404 (also for another key's job: whether it exists is not said)."""
    state = _store().read(job_id)
    if state is None or state["key_id"] != g.key_id:
        raise APIError(404, "file_job_not_found", "no such file job for this API key: it never existed, was deleted, "
                                                  "or expired")
    return state


@bp.get("/v1/files")
def jobs():
    store = _store()
    return jsonify({"jobs": [public_state(store, state) for state in store.jobs_of(g.key_id)]})


@bp.get("/v1/files/<job_id>")
def job(job_id: str):
    return jsonify(public_state(_store(), _owned(job_id)))


@bp.delete("/v1/files/<job_id>")
def delete(job_id: str):
    _owned(job_id)
    _store().mark_deleted(job_id)
    return Response(status=204)


@bp.get("/v1/files/<job_id>/scored")
def scored(job_id: str):
    state = _owned(job_id)
    return _download_once(state, _store().scored_path(job_id, state["format"]), FORMAT_MEDIA_TYPES[state["format"]],
                          f"scored-claims.{state['format']}")


@bp.get("/v1/files/<job_id>/rejected")
def rejected(job_id: str):
    state = _owned(job_id)
    return _download_once(state, _store().rejected_path(job_id, state["format"]), "text/csv", "rejected-rows.csv")


def _download_once(state: dict, path: Path, media_type: str, filename: str) -> Response:
    """The file, deleted once it has been sent whole (a download cut short leaves it until expiry)."""
    if state["status"] != DONE:
        message = (state["error"] or {}).get("message", "") if state["status"] == FAILED else \
            "the file is still being scored; GET /v1/files/{job_id} says when it is done"
        raise APIError(409, "file_job_not_done", f"the job is {state['status']}: {message}".rstrip(": "))
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise APIError(410, "already_downloaded", "this file was downloaded once and then deleted, as every "
                                                  "scored file is; upload the claims again to score them again") from None
    size = Path(handle.name).stat().st_size

    def send():
        with handle:
            while block := handle.read(1 << 16):
                yield block
        path.unlink(missing_ok=True)  # reached only when every block was taken

    return Response(send(), mimetype=media_type, headers={
        "Content-Length": str(size), "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="{filename}"'})


def init_app(app: Flask) -> None:
    file_jobs.init_app(app)
    app.register_blueprint(bp)
