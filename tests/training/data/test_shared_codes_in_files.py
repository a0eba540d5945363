"""A contract-valid claims file loads whole: shared codes alone, treatments with a code the catalog
does not list for them and unlisted codes are kept, read the way the catalog reads them, and
counted under the report's warnings; only malformed rows are quarantined."""
from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from service.cli import main
from claims_io.loading import format_report, load_claims

LASER_OR_TATTOO = "laser_hair_removal|tattoo_removal"


def history_row(claim_id: str, **changes) -> dict:
    """A history row as a CSV holds it: every value a string."""
    row = {
        "claim_id": claim_id, "service_date": "2025-06-02", "treatment": "botulinum_toxin", "procedure_code": "64615",
        "diagnosis_codes": "G43.709", "plan_type": "ppo", "benefit_scope": "comprehensive",
        "facility_type": "dermatology_clinic", "place_of_service": "", "in_network": "yes", "referral": "no",
        "medical_necessity_letter": "no", "prior_authorization": "yes", "conservative_therapy_documented": "yes",
        "visit_number": "1", "weeks_since_last_treatment": "", "patient_age": "40", "billed_amount": "500",
        "benefit_limit": "", "benefit_used": "0", "outcome": "approved", "paid_amount": "450", "denial_reason": "",
    }
    return {**row, **changes}


# (claim_id, treatment, procedure_code, diagnosis_codes) -> the key the loader reads
FORMS = [
    ("laser-alone", "", "17999", "", LASER_OR_TATTOO),
    ("tattoo-dx", "", "17999", "L81.8", LASER_OR_TATTOO),
    ("laser-dx", "", "17999", "F64.0", "laser_hair_removal"),
    ("acne-cyst", "", "11900", "L70.0", "acne_treatment"),
    ("keloid", "", "11901", "L91.0", "scar_treatment"),
    ("pdt-ak", "", "96567", "L57.0", "photodynamic_therapy"),
    ("pdt-both", "", "96567", "L57.0;L70.0", "acne_treatment|photodynamic_therapy"),
    ("acne-named", "acne_treatment", "96567", "L70.0", "acne_treatment"),
    ("facial-toxin-code", "facial", "64615", "", "facial"),
    ("scar-laser-code", "scar_treatment", "17106", "L91.0", "scar_treatment"),
    ("unlisted", "", "99213", "M54.50", "unlisted"),
    ("plain", "botulinum_toxin", "64615", "G43.709", "botulinum_toxin"),
    ("big-visit", "botulinum_toxin", "64615", "G43.709", "botulinum_toxin"),
]
EXPECTED_WARNINGS = {"treatment: unresolved shared code": 3, "procedure_code: not listed for the treatment": 2,
                     "procedure_code: unlisted code": 1}


def write_history(path, rows: list[dict]):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def contract_valid_file(tmp_path):
    rows = [history_row(claim_id, treatment=treatment, procedure_code=code, diagnosis_codes=codes)
            for claim_id, treatment, code, codes, _ in FORMS]
    rows[-1]["visit_number"] = "5000"
    rows[-1]["diagnosis_codes"] = ";".join(["G43.709"] + ["Z68.35"] * 20)
    return write_history(tmp_path / "claims.csv", rows)


@pytest.mark.parametrize("chunk", [None, 4])
def test_a_contract_valid_file_quarantines_nothing_and_reads_each_treatment(contract_valid_file, chunk):
    loaded = load_claims(contract_valid_file, chunk=chunk)
    assert loaded.report.rows_quarantined == 0, loaded.report.quarantined_by_reason
    assert loaded.claims["treatment"].astype(str).tolist() == [key for *_, key in FORMS]
    assert loaded.claims["procedure_code"].astype(str).tolist() == [code for _, _, code, _, _ in FORMS]
    assert loaded.report.warnings_by_reason == EXPECTED_WARNINGS


def test_warnings_count_only_rows_that_are_kept(tmp_path):
    rows = [history_row("A", treatment="", procedure_code="17999", diagnosis_codes=""),
            history_row("B", treatment="", procedure_code="17999", diagnosis_codes="", plan_type="gold"),
            history_row("C", treatment="facial", procedure_code="64615", diagnosis_codes="", patient_age="121")]
    report = load_claims(write_history(tmp_path / "claims.csv", rows)).report
    assert report.rows_kept == 1
    assert report.warnings_by_reason == {"treatment: unresolved shared code": 1}
    assert report.to_dict()["warnings_by_reason"] == {"treatment: unresolved shared code": 1}


def test_validate_prints_the_warnings_without_values(contract_valid_file):
    result = CliRunner().invoke(main, ["validate", str(contract_valid_file)])
    assert result.exit_code == 0, result.output
    assert "warnings by reason" in result.output
    for key in EXPECTED_WARNINGS:
        assert key in result.output
    for value in ("17999", "11900", "96567", "L70", "F64", "facial", "tattoo"):
        assert value not in result.output


def test_the_report_of_a_file_without_warnings_has_no_warnings_section(tmp_path):
    report = load_claims(write_history(tmp_path / "claims.csv", [history_row("A")])).report
    assert report.warnings_by_reason == {} and "warnings" not in format_report(report)
