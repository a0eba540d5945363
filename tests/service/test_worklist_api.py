"""GET /v1/worklist on real parts: claims answered by the app serving the session's champion under
two keys, their outcomes from the 835 fixture, and each key's worklist: its own claims only, in
the ranking `outcomes worklist` writes, with the letter draft where one applies; the audit store
keeps that it was answered, not its rows."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service import worklist_api
from service.audit import AuditStore
from service.cli import main
from service.outcomes.ingest import ingest_outcomes
from service.paperwork import paperwork_records
from service.schemas import Worklist
from tests.service.service_testing import OTHER_KEY, SENTINEL, body_of, example_claim

REMITTANCE = Path(__file__).resolve().parents[1] / "data" / "remittance-sample.835"
MINE = {  # the 835 fixture's denied claims (billed amounts as in its CLP segments)
    "SAMPLE-PARTIAL": example_claim(billed_amount=900, benefit_limit=2000, benefit_used=600),  # CARC 119
    "SAMPLE-DENIED": example_claim(billed_amount=500, prior_authorization=False),  # CARC 197
    "SAMPLE-LINE-REASON": example_claim(billed_amount=800, medical_necessity_letter=False),  # CARC 50
}
THEIRS = {"SAMPLE-ZERO-PAID": example_claim(billed_amount=250, diagnosis_codes=["L90.8"], procedure_code="64612")}


@pytest.fixture
def served(make_served_app, model_store, tmp_path, auth):
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    app = make_served_app(AUDIT_DATABASE_URL=audit_url)
    client = app.test_client()
    for claims, headers in ((MINE, auth), (THEIRS, {"X-API-Key": OTHER_KEY})):
        for claim_id, claim in claims.items():
            assert client.post("/v1/predict", headers=headers, json={**claim, "claim_id": claim_id}).status_code == 200
    ingest_outcomes(REMITTANCE, AuditStore(audit_url))
    out = tmp_path / "worklist.csv"
    result = CliRunner().invoke(main, ["outcomes", "worklist", "--out", str(out), "--tracking-uri", model_store.uri,
                                       "--audit-url", audit_url])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as handle:
        return app, client, list(csv.DictReader(handle))


def test_a_key_sees_its_own_denials_ranked_as_the_command_ranks_them(served, auth):
    app, client, written = served
    response = client.get("/v1/worklist", headers=auth)
    body = body_of(response)
    assert response.status_code == 200, body
    Worklist.model_validate(body)  # exactly the documented shape
    rows = body["rows"]
    assert [row["claim_id"] for row in rows] == [row["claim_id"] for row in written if row["claim_id"] in MINE]
    assert [row["rank"] for row in rows] == list(range(1, len(MINE) + 1))
    for row, line in zip(rows, (line for line in written if line["claim_id"] in MINE)):
        assert (row["step"], row["group_code"], row["next_deadline"] or "") == (
            line["step"], line["group_code"], line["next_deadline"])
        assert row["expected_recovery"] == pytest.approx(float(line["expected_recovery"]), abs=0.01)
        assert row["letter"] == line["letter"]
    assert body["expected_recovery"] == pytest.approx(sum(row["expected_recovery"] for row in rows), abs=0.01)
    assert next(row for row in rows if row["claim_id"] == "SAMPLE-LINE-REASON")["letter"].startswith(
        "# Letter of medical necessity")
    theirs = body_of(client.get("/v1/worklist", headers={"X-API-Key": OTHER_KEY}))
    assert [row["claim_id"] for row in theirs["rows"]] == ["SAMPLE-ZERO-PAID"]
    with app.extensions["audit_store"].engine.connect() as connection:
        kinds = connection.execute(select(paperwork_records.c.request_id, paperwork_records.c.kind)).all()
    assert kinds == [(body["request_id"], "worklist"), (theirs["request_id"], "worklist")]


def test_the_window_is_bounded_and_its_start_checked(served, auth, monkeypatch):
    _, client, _ = served
    assert body_of(client.get("/v1/worklist?since=2020-01-01", headers=auth))["denied_claims"] == len(MINE)
    for since in (SENTINEL, "2999-01-01", "x" * 5000):
        response = client.get("/v1/worklist", headers=auth, query_string={"since": since})
        assert response.status_code == 422 and body_of(response)["errors"][0]["field"] == "since"
        assert SENTINEL not in response.get_data(as_text=True)
    monkeypatch.setattr(worklist_api, "WORKLIST_MAX_CLAIMS", len(MINE) - 1)
    response = client.get("/v1/worklist", headers=auth)
    assert response.status_code == 422 and body_of(response)["code"] == "worklist_too_large"
    assert client.get("/v1/worklist").status_code == 401
