"""`outcomes worklist` on real parts: claims answered by the app serving the session's champion,
their outcomes from the 835 fixture and an outcome CSV, the command run as the CLI runs it; each
row is the playbook's answer for its claim, scored again by the same champion, under the group
code the payer gave (the 835's CAS01, the CSV's group_code), with the letter drafted where the
step asks for one."""
from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.audit import AuditStore
from service.cli import main
from service.outcomes.ingest import ingest_outcomes
from tests.service.service_testing import body_of, example_claim

REMITTANCE = Path(__file__).resolve().parents[2] / "data" / "remittance-sample.835"
FORMULA_ID = "=HYPERLINK(1)"
# The 835 fixture's claim ids (billed amounts as in its CLP segments), and one more from a CSV.
SERVED = {
    "SAMPLE-APPROVED": example_claim(billed_amount=1350),
    "SAMPLE-PARTIAL": example_claim(billed_amount=900, benefit_limit=2000, benefit_used=600),  # CARC 119, paid 430
    "SAMPLE-DENIED": example_claim(billed_amount=500, prior_authorization=False),  # CARC 197
    "SAMPLE-ZERO-PAID": example_claim(billed_amount=250, diagnosis_codes=["L90.8"], procedure_code="64612"),  # 96
    "SAMPLE-LINE-REASON": example_claim(billed_amount=800, medical_necessity_letter=False),  # CARC 50
    FORMULA_ID: example_claim(billed_amount=700, diagnosis_codes=["G43.7"]),  # CARC 146, from the CSV
    # CARC 96 like SAMPLE-ZERO-PAID, but the CSV says PR where the 835 said CO
    "CSV-COSMETIC": example_claim(billed_amount=300, diagnosis_codes=["L90.8"], procedure_code="64612"),
}


@pytest.fixture
def worklist(make_served_app, model_store, tmp_path, auth):
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    client = make_served_app(AUDIT_DATABASE_URL=audit_url).test_client()
    answers = {claim_id: body_of(client.post("/v1/predict", headers=auth, json={**claim, "claim_id": claim_id}))
               for claim_id, claim in SERVED.items()}
    outcomes_csv = tmp_path / "outcomes.csv"
    outcomes_csv.write_text("claim_id,outcome,paid_amount,denial_reason,adjudication_date,group_code\n"
                            f'"{FORMULA_ID}",denied,0,146,2026-12-01,\n'
                            "CSV-COSMETIC,denied,0,96,2026-12-01,PR\n", encoding="utf-8")
    for path in (REMITTANCE, outcomes_csv):
        ingest_outcomes(path, AuditStore(audit_url))
    out = tmp_path / "work" / "worklist.csv"
    result = CliRunner().invoke(main, ["outcomes", "worklist", "--out", str(out), "--tracking-uri", model_store.uri,
                                       "--audit-url", audit_url])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return out, rows, answers, client, result.output


def test_the_worklist_lists_each_denial_with_its_step_ranked_by_expected_recovery(worklist, auth):
    out, rows, answers, client, output = worklist
    by_id = {row["claim_id"]: row for row in rows}
    assert set(by_id) == {"SAMPLE-PARTIAL", "SAMPLE-DENIED", "SAMPLE-ZERO-PAID", "SAMPLE-LINE-REASON",
                          "'" + FORMULA_ID, "CSV-COSMETIC"}  # the approved claim is not a denial; the formula inert
    assert [row["rank"] for row in rows] == [str(rank) for rank in range(1, len(rows) + 1)]
    recoveries = [float(row["expected_recovery"]) for row in rows]
    assert recoveries == sorted(recoveries, reverse=True) and recoveries[0] > 0
    assert {claim_id: (row["step"], row["group_code"], row["group_code_from"]) for claim_id, row in by_id.items()} == {
        "SAMPLE-PARTIAL": ("write_off", "CO", "payer"),  # 119 under CO: the provider's loss, not the patient's bill
        "SAMPLE-DENIED": ("retro_authorization", "CO", "payer"),
        # the same cosmetic exclusion (CARC 96) twice: the 835 said CO, so the provider may not bill the
        # patient (the rule's own PR is not used over the payer's word); the CSV said PR, so the patient pays
        "SAMPLE-ZERO-PAID": ("write_off", "CO", "payer"),
        "CSV-COSMETIC": ("bill_patient", "PR", "payer"),
        "SAMPLE-LINE-REASON": ("appeal_with_letter", "CO", "payer"),
        "'" + FORMULA_ID: ("corrected_claim", "CO", "rule")}  # no group code in the CSV: CODING-001's CO
    letter = by_id["SAMPLE-LINE-REASON"]["letter"]  # the letter POST /v1/letters drafts for the claim
    drafted = body_of(client.post("/v1/letters", headers=auth, json={"claim": {
        **SERVED["SAMPLE-LINE-REASON"], "claim_id": "SAMPLE-LINE-REASON"}}))
    assert letter == drafted["markdown"] and "[PATIENT NAME]" in letter
    assert not any(row["letter"] for claim_id, row in by_id.items() if claim_id != "SAMPLE-LINE-REASON")
    # the 197's row is the fixed claim scored by the same champion: /v1/predict with the authorization
    fixed = body_of(client.post("/v1/predict", headers=auth, json={**SERVED["SAMPLE-DENIED"],
                                                                    "prior_authorization": True}))
    denied = by_id["SAMPLE-DENIED"]
    assert float(denied["resubmission_probability"]) == pytest.approx(fixed["approval_probability"], abs=1e-4)
    assert float(denied["expected_recovery"]) == pytest.approx(fixed["approval_probability"] * 500, abs=0.01)
    assert "6 denied claims" in output


def test_the_worklist_file_is_owner_only(worklist):
    out = worklist[0]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
