"""One set of limits: a claims file and a request accept exactly the same claims.

Each case is one claim, sent as a one-row requests file (claims_io.loading.load_claims,
history=False) and as POST /v1/predict; both must accept it or both refuse it. An accepted claim
must come out of both paths as the same canonical claim, with the same warnings.
"""
from __future__ import annotations

import csv

import pytest

from features.catalog import UNLISTED_CODE, UNPAIRED_CODE, UNRESOLVED_TREATMENT
from features.contract import MAX_EXACT_INTEGER, VISIT_FIELDS
from service.claims import normalise_request_claim
from tests.service.service_testing import DROP, body_of, example_claim
from claims_io.files import MAX_CELL_CHARS
from claims_io.loading import format_report, load_claims

WARNINGS = {f"{warning.field}: {warning.kind}": warning for warning in (UNLISTED_CODE, UNPAIRED_CODE,
                                                                         UNRESOLVED_TREATMENT)}
MANY_CODES = ["G43.709", *["Z68.35", "G24.3", "L74.510"] * 33]  # 100 codes, the primary first

# (label, changes to the example claim, accepted)
CASES = [
    # visit_number: >= 1 (contract), <= 2^53 - 1 (the technical bound of integers)
    ("visit_number at its lower bound", {"visit_number": 1}, True),
    ("visit_number below it", {"visit_number": 0}, False),
    ("visit_number 5000", {"visit_number": 5000}, True),
    ("visit_number at the largest exact integer", {"visit_number": MAX_EXACT_INTEGER}, True),
    ("visit_number just past it", {"visit_number": MAX_EXACT_INTEGER + 1}, False),
    ("visit_number two past it (2^53 + 1 reads as 2^53)", {"visit_number": MAX_EXACT_INTEGER + 2}, False),
    # patient_age: 0..120
    ("patient_age at its lower bound", {"patient_age": 0}, True),
    ("patient_age below it", {"patient_age": -1}, False),
    ("patient_age at its upper bound", {"patient_age": 120}, True),
    ("patient_age above it", {"patient_age": 121}, False),
    # numbers >= 0, no upper bound
    ("weeks_since_last_treatment at its lower bound", {"weeks_since_last_treatment": 0}, True),
    ("weeks_since_last_treatment below it", {"weeks_since_last_treatment": -0.5}, False),
    ("weeks_since_last_treatment large", {"weeks_since_last_treatment": 5200.5}, True),
    ("billed_amount at its lower bound", {"billed_amount": 0}, True),
    ("billed_amount below it", {"billed_amount": -0.01}, False),
    ("billed_amount huge but finite", {"billed_amount": 1e300}, True),
    ("benefit_limit at its lower bound", {"benefit_limit": 0}, True),
    ("benefit_limit below it", {"benefit_limit": -0.01}, False),
    ("benefit_used at its lower bound", {"benefit_used": 0}, True),
    ("benefit_used below it", {"benefit_used": -0.01}, False),
    # no bound on claim_id length or diagnosis codes in the contract, in either path; a file's cells
    # are bounded by what reading it may cost (claims_io.files.MAX_CELL_CHARS: a longer cell refuses
    # the file whole, tests/claims_io/test_file_costs.py), a request by its body size
    ("claim_id of 129 characters", {"claim_id": "C" * 129}, True),
    ("claim_id of a file cell's longest", {"claim_id": "C" * MAX_CELL_CHARS}, True),
    ("12 diagnosis codes", {"diagnosis_codes": MANY_CODES[:12]}, True),
    ("13 diagnosis codes", {"diagnosis_codes": MANY_CODES[:13]}, True),
    ("100 diagnosis codes", {"diagnosis_codes": MANY_CODES}, True),
    # shared and overlapping procedure codes
    ("17999 alone", {"treatment": DROP, "procedure_code": "17999", "diagnosis_codes": []}, True),
    ("17999 alone with a diagnosis only laser hair removal covers",
     {"treatment": DROP, "procedure_code": "17999", "diagnosis_codes": ["F64.0"]}, True),
    ("11900 alone with an acne diagnosis", {"treatment": DROP, "procedure_code": "11900", "diagnosis_codes": ["L70.0"]},
     True),
    ("11901 alone with a keloid", {"treatment": DROP, "procedure_code": "11901", "diagnosis_codes": ["L91.0"]}, True),
    ("96567 alone with diagnoses of both candidates",
     {"treatment": DROP, "procedure_code": "96567", "diagnosis_codes": ["L57.0", "L70.0"]}, True),
    ("acne treatment named with 11900", {"treatment": "acne_treatment", "procedure_code": "11900",
                                         "diagnosis_codes": ["L70.0"]}, True),
    ("a treatment with another treatment's code", {"treatment": "facial", "procedure_code": "64615"}, True),
    ("scar treatment with a vascular laser code", {"treatment": "scar_treatment", "procedure_code": "17106",
                                                   "diagnosis_codes": ["L91.0"]}, True),
    ("a code no catalog row lists", {"treatment": DROP, "procedure_code": "99213"}, True),
    # strings as a file reads its cells: stripped, a blank one absent
    ("a treatment with surrounding blanks", {"treatment": " facial ", "procedure_code": DROP}, True),
    ("a plan type with surrounding blanks", {"plan_type": " ppo "}, True),
    ("a blank optional field", {"place_of_service": ""}, True),
    ("a blank procedure code beside a treatment", {"procedure_code": " "}, True),
    ("a blank diagnosis code among others", {"diagnosis_codes": ["G43.709", " "]}, True),
    ("a blank required field", {"plan_type": ""}, False),
    ("a blank treatment and no code", {"treatment": "  ", "procedure_code": DROP}, False),
    ("a plan type in capitals", {"plan_type": "PPO"}, True),  # enumerations are read in any case, as codes
    ("a facility type in mixed case", {"facility_type": "Medical_Spa"}, True),
    ("a plan type nobody offers", {"plan_type": "PPOO"}, False),
    # what the contract calls invalid
    ("an unknown treatment", {"treatment": "aromatherapy", "procedure_code": DROP}, False),
    ("a malformed procedure code", {"treatment": DROP, "procedure_code": "1234"}, False),
    ("neither treatment nor code", {"treatment": DROP, "procedure_code": DROP}, False),
    ("an unknown diagnosis code", {"diagnosis_codes": ["G43.709", "Q99.999"]}, False),
]


def _csv_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def write_request_file(path, claim: dict):
    """The claim as a one-row requests CSV of every visit field (absent fields blank)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(VISIT_FIELDS))
        writer.writeheader()
        writer.writerow({name: _csv_value(claim.get(name)) for name in VISIT_FIELDS})
    return path


def fired_rules(answer: dict) -> list[str]:
    """Every rule that fired on the claim: excluding it, or left to the classifier by the history."""
    return [rule["id"] for rule in answer["excluded_by"] + answer.get("rules_learned_from_history", [])]


@pytest.mark.parametrize("label, changes, accepted", CASES, ids=[case[0] for case in CASES])
def test_a_file_and_a_request_accept_the_same_claims(served_client, auth, tmp_path, label, changes, accepted):
    claim = example_claim(**changes)
    loaded = load_claims(write_request_file(tmp_path / "requests.csv", claim), history=False)
    response = served_client.post("/v1/predict", json=claim, headers=auth)
    file_accepts = loaded.report.rows_kept == 1
    assert (file_accepts, response.status_code == 200) == (accepted, accepted), (
        format_report(loaded.report), body_of(response).get("errors"))
    if not accepted:
        assert response.status_code == 422 and loaded.report.rows_quarantined == 1
        return
    canonical, row = normalise_request_claim(claim), loaded.claims.iloc[0]
    for name in ("treatment", "procedure_code", "diagnosis_codes", "visit_number", "patient_age", "billed_amount"):
        assert (row[name] or None) == (canonical[name] or None), name
    file_warnings = [WARNINGS[key].message for key in loaded.report.warnings_by_reason]
    assert [warning["message"] for warning in body_of(response).get("warnings", [])] == file_warnings


def test_an_unresolved_claim_is_answered_with_its_warning(served_client, auth):
    response = served_client.post("/v1/predict", headers=auth,
                                  json=example_claim(treatment=DROP, procedure_code="17999", diagnosis_codes=[]))
    answer = body_of(response)
    assert response.status_code == 200
    assert answer["warnings"] == [{"field": "treatment", "message": UNRESOLVED_TREATMENT.message}]
    # laser hair removal and tattoo removal are both cosmetic by default, and no diagnosis covers either
    assert "COSMETIC-001" in fired_rules(answer)


def test_a_treatment_with_an_unpaired_code_is_answered_as_that_treatment(served_client, auth):
    response = served_client.post("/v1/predict", headers=auth, json=example_claim(treatment="facial",
                                                                                   procedure_code="64615"))
    answer = body_of(response)
    assert response.status_code == 200
    assert answer["warnings"] == [{"field": "procedure_code", "message": UNPAIRED_CODE.message}]
    assert "COMFORT-001" in fired_rules(answer)  # a facial stays a facial
