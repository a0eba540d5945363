"""The claims-file profile notebook 2 shows, on the session's demo files and champion."""
from __future__ import annotations

import pytest

from features.contract import TARGET
from scoring.profile import input_fields, label_profile
from training.review import data_profile as review
from training.review.versions import ReviewInputError

pytestmark = pytest.mark.slow  # the session's trained store


def test_claims_profile_reports_quarantine_volume_rates_and_reasons(trained_store, champion_model):
    profile = review.claims_profile(trained_store.files["base"], champion_model.training_profile)
    assert profile.report.rows_quarantined > 0
    assert profile.quarantine["problem_lines"].sum() == sum(profile.report.quarantined_by_reason.values())
    assert profile.volume["claims"].sum() == len(profile.claims)
    by_treatment = profile.approval["treatment"]
    assert (by_treatment["claims"] * by_treatment["approval_rate"]).sum() == pytest.approx(profile.claims[TARGET].sum())
    denied = (~profile.claims[TARGET]).sum()
    assert profile.denial_reasons["claims"].sum() == denied
    assert set(profile.drift["field"]) == set(input_fields(champion_model.training_profile))
    assert profile.top_shift["field"].nunique() == 1


def test_drift_names_a_field_that_shifted(champion_model, test_claims):
    shifted = test_claims.assign(facility_type="medical_spa")
    drift = review.drift_table(champion_model.training_profile, shifted).set_index("field")
    assert drift.index[0] == "facility_type" and drift.loc["facility_type", "shift"] == "significant"
    shares = review.share_comparison(champion_model.training_profile, shifted, "facility_type")
    assert shares.set_index("value").loc["medical_spa", "file_share"] == 1.0


def test_a_profile_needs_a_claims_file():
    with pytest.raises(ReviewInputError, match="claims_file"):
        review.claims_profile(None)


def test_label_drift_compares_the_approval_rate_with_the_training_claims(champion_model, test_claims):
    trained_on = label_profile(champion_model.training_profile)
    table = review.label_drift_table(champion_model.training_profile, test_claims)
    overall = table.iloc[0]
    assert overall["treatment"] == "all claims" and overall["file_claims"] == len(test_claims)
    assert overall["training_approval_rate"] == pytest.approx(trained_on["approval_rate"])
    assert overall["difference"] == pytest.approx(test_claims[TARGET].mean() - trained_on["approval_rate"])
    assert overall["low"] < overall["difference"] < overall["high"]
    assert set(table["treatment"][1:]) == set(trained_on["by_treatment"]) | set(test_claims["treatment"].astype(str))
    denied = test_claims.assign(**{TARGET: False})
    shifted = review.label_drift_table(champion_model.training_profile, denied)
    assert shifted.iloc[0]["shifted"] and shifted.iloc[0]["high"] < 0


def test_label_drift_needs_a_profile_that_holds_the_label(champion_model, test_claims):
    assert review.label_drift_table(input_fields(champion_model.training_profile), test_claims) is None
