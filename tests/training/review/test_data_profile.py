"""The claims-file profile notebook 2 shows, on the session's demo files and champion."""
from __future__ import annotations

import pytest

from features.contract import TARGET
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
    assert set(profile.drift["field"]) == set(champion_model.training_profile)
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
