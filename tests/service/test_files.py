"""/v1/files with the real app and the session's trained champion: a claims file uploaded, scored in
the background (progress and summary read back), its results downloaded once; the limits, bad
files, ownership, the page's session, the audit, owner-only files and their deletion."""
from __future__ import annotations

import csv
import io
import json
import re
import stat
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from service.audit import AuditStore
from service.file_jobs import EXTENSION, JOB_ID, run_pending
from service.upload_admission import UNFINISHED_JOBS_PER_KEY
from tests.service.service_testing import API_KEY, OTHER_KEY, SENTINEL, body_of, example_claim
from claims_io.requests import REJECTED_COLUMNS
from scoring.coverage_model import SCORE_COLUMNS

CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
SCORING_DEADLINE_SECONDS = 60  # a bound, not a measurement: a few rows take well under a second


def _row(**changes) -> dict:
    claim = example_claim(**changes)
    claim["diagnosis_codes"] = ";".join(claim.get("diagnosis_codes", []))
    return claim


def _csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _parquet_bytes(rows: list[dict]) -> bytes:
    out = io.BytesIO()
    pd.DataFrame(rows).to_parquet(out, index=False)
    return out.getvalue()


GOOD = [_row(claim_id=f"F-{number}", patient_age=30 + number) for number in range(5)]
BAD = [_row(claim_id="F-old", patient_age=130), _row(claim_id="F-gold", plan_type="gold")]


def _upload(client, body: bytes, media_type: str = CSV, key: str = API_KEY):
    return client.post("/v1/files", data=body, headers={"Authorization": f"Bearer {key}", "Content-Type": media_type})


def _finished(client, job_id: str, key: str = API_KEY) -> dict:
    deadline = time.monotonic() + SCORING_DEADLINE_SECONDS
    while True:
        job = body_of(client.get(f"/v1/files/{job_id}", headers={"Authorization": f"Bearer {key}"}))
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def _jobs_in(folder: Path) -> list[Path]:
    """The job folders in the jobs folder (not its slot lock, `.reserve.lock`)."""
    return [path for path in folder.iterdir() if JOB_ID.fullmatch(path.name)] if folder.exists() else []


def _get(client, path: str, key: str = API_KEY):
    return client.get(path, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def files_app(make_served_app, tmp_path):
    return make_served_app(FILE_JOBS_DIR=str(tmp_path / "jobs"))


@pytest.fixture
def files_client(files_app):
    return files_app.test_client()


def test_a_csv_file_is_scored_in_the_background_and_its_results_downloaded_once(files_app, files_client, auth):
    uploaded = _upload(files_client, _csv_bytes(GOOD + BAD))
    assert uploaded.status_code == 202, uploaded.data
    job = body_of(uploaded)
    assert uploaded.headers["Location"] == f"/v1/files/{job['job_id']}" and re.fullmatch(r"[0-9a-f]{32}", job["job_id"])
    assert job["status"] in ("queued", "running") and job["rows_total"] == 7 and job["format"] == "csv"
    assert job["downloads"] == {"scored": None, "rejected": None}

    job = _finished(files_client, job["job_id"])
    assert job["status"] == "done" and job["error"] is None, job
    assert job["progress"] == 1.0 and job["rows_read"] == 7
    summary = job["summary"]
    assert summary["answered"] == 5 and summary["rejected"] == 2
    assert sum(summary["decisions"].values()) == 5
    assert {(item["field"], item["rows"]) for item in summary["rejected_by_reason"]} == {("patient_age", 1),
                                                                                         ("plan_type", 1)}
    assert all("130" not in item["reason"] and "gold" not in item["reason"] for item in summary["rejected_by_reason"])

    scored = _get(files_client, job["downloads"]["scored"])
    assert scored.status_code == 200 and scored.mimetype == "text/csv"
    assert scored.headers["Cache-Control"] == "no-store" and "attachment" in scored.headers["Content-Disposition"]
    rows = pd.read_csv(io.BytesIO(scored.data), dtype=str)
    assert list(rows["claim_id"]) == [row["claim_id"] for row in GOOD]
    assert set(SCORE_COLUMNS) <= set(rows.columns)
    assert rows["decision"].value_counts().to_dict() == summary["decisions"]
    # the file decides as the API does: same probability, same thresholds
    asked = body_of(files_client.post("/v1/predict", json=example_claim(claim_id="F-0", patient_age=30), headers=auth))
    approval = float(rows.loc[0, "approval_probability"])
    assert approval == pytest.approx(asked["approval_probability"], abs=5e-5)  # the API rounds to 4 places
    assert rows.loc[0, "decision"] == asked["decision"]

    rejected = _get(files_client, job["downloads"]["rejected"])
    assert rejected.status_code == 200
    lines = list(csv.DictReader(io.StringIO(rejected.get_data(as_text=True))))
    assert [line["claim_id"] for line in lines] == ["F-old", "F-gold"] and list(lines[0]) == list(REJECTED_COLUMNS)

    # each file once: then it is deleted, and the job says so
    assert _get(files_client, job["downloads"]["scored"]).status_code == 410
    assert body_of(_get(files_client, f"/v1/files/{job['job_id']}"))["downloads"] == {"scored": None, "rejected": None}
    folder = Path(files_app.config["FILE_JOBS_DIR"]) / job["job_id"]
    assert sorted(path.name for path in folder.iterdir()) == ["lock", "state.json"]  # counts only, no claim


def test_a_parquet_file_is_scored_to_parquet(files_client):
    job = body_of(_upload(files_client, _parquet_bytes(GOOD), PARQUET))
    job = _finished(files_client, job["job_id"])
    assert job["status"] == "done" and job["summary"]["answered"] == 5, job
    scored = _get(files_client, job["downloads"]["scored"])
    assert scored.mimetype == PARQUET
    frame = pd.read_parquet(io.BytesIO(scored.data))
    assert list(frame["claim_id"]) == [row["claim_id"] for row in GOOD] and set(SCORE_COLUMNS) <= set(frame.columns)


def test_a_files_answered_claims_are_audited_under_its_key(files_app, files_client, log_lines):
    rows = [_row(claim_id=f"{SENTINEL}-{number}") for number in range(3)] + [_row(patient_age=130,
                                                                                 claim_id=SENTINEL)]
    job = _finished(files_client, body_of(_upload(files_client, _csv_bytes(rows)))["job_id"])
    assert job["status"] == "done", job
    records = AuditStore(files_app.config["AUDIT_DATABASE_URL"]).read_since()
    assert len(records) == 3  # answered claims only
    assert [record.claim["claim_id"] for record in records] == [f"{SENTINEL}-{number}" for number in range(3)]
    assert {record.key_id for record in records} == {files_app.extensions["api_keys"].key_id(API_KEY)}
    assert all(record.answer["decision"] in job["summary"]["decisions"] for record in records)
    assert all(record.model_version and record.rules_version for record in records)
    assert not any(SENTINEL in line for line in log_lines())  # claims never reach the log


@pytest.mark.parametrize("label, body, media_type, status, words", [
    ("a form upload", b"--x\r\n", "multipart/form-data; boundary=x", 415, "text/csv"),
    ("JSON", b'{"claims": []}', "application/json", 415, "application/vnd.apache.parquet"),
    ("an empty body", b"", CSV, 422, "empty"),
    ("a missing column", _csv_bytes([{key: value for key, value in GOOD[0].items() if key != "patient_age"}]), CSV,
     422, "patient_age"),
    ("no treatment nor procedure code",
     _csv_bytes([{key: value for key, value in GOOD[0].items() if key not in ("treatment", "procedure_code")}]),
     CSV, 422, "missing required column(s): treatment or procedure_code"),
    ("not UTF-8", _csv_bytes(GOOD).decode().encode("utf-16"), CSV, 422, "UTF-8"),
    ("CSV declared as Parquet", _csv_bytes(GOOD), PARQUET, 422, "Parquet"),
    ("rows with too many fields", _csv_bytes(GOOD) + b"a,b," * 40 + b"\n", CSV, 422, "header's"),
], ids=lambda value: value if isinstance(value, str) and " " in value else None)
def test_a_bad_file_gets_a_clear_4xx_and_leaves_nothing(files_app, files_client, label, body, media_type, status,
                                                      words):
    response = _upload(files_client, body, media_type)
    assert response.status_code == status, (label, response.data)
    error = body_of(response)
    assert words in error["message"] + " ".join(item["message"] for item in error["errors"]), error
    assert "/" not in " ".join(item["message"] for item in error["errors"])  # no server path
    assert not _jobs_in(Path(files_app.config["FILE_JOBS_DIR"]))


def test_the_size_limits_are_enforced_with_a_413_naming_them(make_served_app, tmp_path):
    client = make_served_app(FILE_JOBS_DIR=str(tmp_path / "jobs"), FILE_MAX_BYTES=4000, FILE_MAX_ROWS=6).test_client()
    too_many = _upload(client, _csv_bytes(GOOD + BAD))
    assert too_many.status_code == 413 and "6 rows" in body_of(too_many)["message"]
    assert "at most 6 data rows" in body_of(too_many)["errors"][0]["message"]
    too_big = _upload(client, _csv_bytes(GOOD * 10))
    assert too_big.status_code == 413 and "4,000 bytes" in body_of(too_big)["message"]
    assert _upload(client, _csv_bytes(GOOD)).status_code == 202  # within both
    assert not [path for path in _jobs_in(tmp_path / "jobs") if not (path / "state.json").exists()]


def test_only_the_key_that_uploaded_a_file_sees_its_job(files_client):
    job = _finished(files_client, body_of(_upload(files_client, _csv_bytes(GOOD)))["job_id"])
    for path in (f"/v1/files/{job['job_id']}", job["downloads"]["scored"], job["downloads"]["rejected"]):
        response = _get(files_client, path, OTHER_KEY)
        assert response.status_code == 404 and body_of(response)["code"] == "file_job_not_found"
    other_delete = files_client.delete(f"/v1/files/{job['job_id']}", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert other_delete.status_code == 404
    assert _get(files_client, job["downloads"]["scored"]).status_code == 200  # still the owner's
    assert _get(files_client, "/v1/files/not-a-job-id").status_code == 404
    assert files_client.get(f"/v1/files/{job['job_id']}").status_code == 401


def test_a_deleted_job_and_its_files_are_gone(files_app, files_client, auth):
    job = _finished(files_client, body_of(_upload(files_client, _csv_bytes(GOOD)))["job_id"])
    assert files_client.delete(f"/v1/files/{job['job_id']}", headers=auth).status_code == 204
    assert _get(files_client, f"/v1/files/{job['job_id']}").status_code == 404
    assert not (Path(files_app.config["FILE_JOBS_DIR"]) / job["job_id"]).exists()


def test_a_jobs_files_are_owner_only_and_deleted_when_it_expires(files_app, files_client):
    job = _finished(files_client, body_of(_upload(files_client, _csv_bytes(GOOD + BAD)))["job_id"])
    jobs = Path(files_app.config["FILE_JOBS_DIR"])
    folder = jobs / job["job_id"]
    assert stat.S_IMODE(jobs.stat().st_mode) == 0o700 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()}
    assert set(files) == {"state.json", "lock", "scored.csv", "scored.csv.rejected.csv"}  # the upload is gone
    assert set(files.values()) == {0o600}, files
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**state, "expires_at": "2000-01-01T00:00:00Z"}))
    run_pending(files_app)
    assert not folder.exists()
    assert _get(files_client, f"/v1/files/{job['job_id']}").status_code == 404


def test_a_job_whose_worker_died_is_marked_failed(files_app, files_client):
    job = _finished(files_client, body_of(_upload(files_client, _csv_bytes(GOOD)))["job_id"])
    folder = Path(files_app.config["FILE_JOBS_DIR"]) / job["job_id"]
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**state, "status": "running"}))  # as a killed worker leaves it
    run_pending(files_app)
    job = body_of(_get(files_client, f"/v1/files/{job['job_id']}"))
    assert job["status"] == "failed" and job["error"]["code"] == "interrupted"
    assert _get(files_client, f"/v1/files/{job['job_id']}/scored").status_code == 409


def test_a_key_may_have_only_a_few_files_waiting(make_app, tmp_path):
    client = make_app(FILE_JOBS_DIR=str(tmp_path / "jobs")).test_client()  # no model: uploads stay queued
    for _ in range(UNFINISHED_JOBS_PER_KEY):
        assert _upload(client, _csv_bytes(GOOD)).status_code == 202
    refused = _upload(client, _csv_bytes(GOOD))
    assert refused.status_code == 429 and body_of(refused)["code"] == "too_many_file_jobs"
    assert _upload(client, _csv_bytes(GOOD), key=OTHER_KEY).status_code == 202  # another key's queue


def test_a_key_lists_its_own_jobs_newest_first_and_never_another_keys(make_app, tmp_path):
    app = make_app(FILE_JOBS_DIR=str(tmp_path / "jobs"))  # no model: uploads stay queued
    client = app.test_client()
    assert body_of(_get(client, "/v1/files")) == {"jobs": []}
    first, second = (body_of(_upload(client, _csv_bytes(GOOD)))["job_id"] for _ in range(2))
    others = body_of(_upload(client, _csv_bytes(GOOD), key=OTHER_KEY))["job_id"]
    listed = body_of(_get(client, "/v1/files"))["jobs"]
    assert {job["job_id"] for job in listed} == {first, second}
    assert [job["created_at"] for job in listed] == sorted((job["created_at"] for job in listed), reverse=True)
    assert listed[0] == body_of(_get(client, f"/v1/files/{listed[0]['job_id']}"))  # each as GET /v1/files/<id>
    assert [job["job_id"] for job in body_of(_get(client, "/v1/files", OTHER_KEY))["jobs"]] == [others]
    assert client.delete(f"/v1/files/{first}", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 204
    folder = tmp_path / "jobs" / second
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**state, "expires_at": "2000-01-01T00:00:00Z"}))
    assert body_of(_get(client, "/v1/files"))["jobs"] == []  # deleted, and expired before the sweep
    assert client.get("/v1/files").status_code == 401


def test_the_page_session_uploads_with_its_csrf_token(files_client):
    page = files_client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    files_client.post("/sign-in", data={"api_key": API_KEY, "csrf_token": token})
    page_token = re.search(r'name="csrf-token" content="([^"]+)"', files_client.get("/").get_data(as_text=True)).group(1)
    refused = files_client.post("/v1/files", data=_csv_bytes(GOOD), headers={"Content-Type": CSV})
    assert refused.status_code == 403 and body_of(refused)["code"] == "csrf_failed"
    uploaded = files_client.post("/v1/files", data=_csv_bytes(GOOD), headers={"Content-Type": CSV,
                                                                               "X-CSRFToken": page_token})
    assert uploaded.status_code == 202
    job = body_of(uploaded)
    deadline = time.monotonic() + SCORING_DEADLINE_SECONDS
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = body_of(files_client.get(f"/v1/files/{job['job_id']}"))  # the session reads it, no key
    assert job["status"] == "done"
    assert files_client.get(job["downloads"]["scored"]).status_code == 200
    assert files_client.application.extensions[EXTENSION].read(job["job_id"])["key_id"] == \
        files_client.application.extensions["api_keys"].key_id(API_KEY)


def _bomb(rows: int, **columns) -> bytes:
    """A zstd Parquet file of `rows` good claims with some columns replaced, written dictionary-encoded
    from one value each (as an attacker would: a few KB, and never expanded here either)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def repeated(value) -> pa.Array:
        if isinstance(value, pa.Array):  # a nested value, given as the whole column
            return value
        return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array([value]))

    table = {name: repeated(value) for name, value in {**GOOD[0], **columns}.items()}
    out = io.BytesIO()
    pq.write_table(pa.table(table), out, compression="zstd")
    return out.getvalue()


def _million_columns() -> bytes:
    return ",".join(f"c{number}" for number in range(1_000_000)).encode() + b"\n"


@pytest.mark.parametrize("label, body, media_type, status, words", [
    ("a million columns", _million_columns, CSV, 422, "1,000,000 columns; a claims file may have at most 200"),
    ("100,000 ids of 20,000 characters", lambda: _bomb(100_000, claim_id="7" * 20_000), PARQUET, 422,
     "column claim_id holds a value longer than 1,000 characters"),
    ("100,000 ids of 2,000 characters", lambda: _bomb(100_000, claim_id="7" * 2_000), PARQUET, 422,
     "column claim_id holds a value longer than 1,000 characters"),
    ("100,000 ids of 900 characters", lambda: _bomb(100_000, claim_id="7" * 900), PARQUET, 413,
     "must decode to at most 67,108,864 bytes"),
    ("a list of lists of codes", lambda: _bomb(1, diagnosis_codes=_arrow_value([["G43.709"]])), PARQUET, 422,
     "column diagnosis_codes holds Parquet values of type list of list of string"),
    ("a list for an age", lambda: _bomb(1, patient_age=_arrow_value([44])), PARQUET, 422,
     "column patient_age holds Parquet values of type list of int64"),
], ids=lambda value: value if isinstance(value, str) and " " in value else None)
def test_a_file_that_would_cost_more_than_its_size_is_refused_at_upload(make_app, tmp_path, label, body, media_type,
                                                                       status, words):
    app = make_app(FILE_JOBS_DIR=str(tmp_path / "jobs"))  # refused before scoring: no model needed
    body = body()
    assert len(body) < 12 * 2**20
    started = time.monotonic()
    response = _upload(app.test_client(), body, media_type)
    assert time.monotonic() - started < 20, label  # a million columns once held a worker past its timeout
    assert response.status_code == status, (label, response.data)
    assert words in " ".join(item["message"] for item in body_of(response)["errors"]), body_of(response)
    assert not _jobs_in(tmp_path / "jobs")


def _arrow_value(value):
    import pyarrow as pa

    return pa.array([value])


class _HeldBody(io.RawIOBase):
    """An upload's body that arrives only when the test says so, as a slow client's does."""

    def __init__(self, body: bytes, entered: list, release: threading.Event):
        self._body, self._entered, self._release, self._started = io.BytesIO(body), entered, release, False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body before sending it
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._body.seek(offset, whence)

    def tell(self) -> int:
        return self._body.tell()

    def readinto(self, buffer) -> int:
        if not self._started:
            self._started = True
            self._entered.append(1)
            self._release.wait(30)
        return self._body.readinto(buffer)


def test_uploads_at_the_same_time_cannot_pass_the_job_limit_together(make_app, tmp_path):
    """Each upload takes its slot before its body arrives: three at once against a limit of two get
    two 202s and one 429 (the check once came before the slot was taken, and all three passed)."""
    app = make_app(FILE_JOBS_DIR=str(tmp_path / "jobs"))  # no model: uploads stay queued
    body = _csv_bytes(GOOD)
    entered, release, statuses = [], threading.Event(), []

    def upload():
        response = app.test_client().post(
            "/v1/files", input_stream=_HeldBody(body, entered, release),
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": CSV, "Content-Length": str(len(body))})
        statuses.append(response.status_code)

    uploads = UNFINISHED_JOBS_PER_KEY + 1
    threads = [threading.Thread(target=upload) for _ in range(uploads)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(entered) + len(statuses) < uploads and time.monotonic() < deadline:  # every upload past its check
        time.sleep(0.02)
    release.set()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [202] * UNFINISHED_JOBS_PER_KEY + [429]
