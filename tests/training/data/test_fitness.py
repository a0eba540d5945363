"""The fit-to-train verdict on a claims file: a clean demo history passes, one with planted
problems does not, and the checks say which."""
from __future__ import annotations

import numpy as np
import pytest

from features.contract import TARGET
from tests.stores import plant_problems
from training.data import fitness
from claims_io.loading import load_claims
from scoring.profile import build_profile, input_fields

LABEL_VS_CHAMPION = "label drift vs the champion's training claims"


def test_a_clean_history_is_fit_to_train(demo_files):
    verdict = fitness.fit_to_train(demo_files["better"])
    assert verdict.verdict == fitness.FIT, verdict.summary()
    assert (verdict.checks["status"] == fitness.OK).all()
    assert {"procedure_code", "diagnosis_category", "treatment"} <= set(verdict.drift["field"])


def test_planted_problems_make_a_history_not_fit_and_are_named(demo_files, tmp_path):
    verdict = fitness.fit_to_train(plant_problems(demo_files["better"], tmp_path / "planted.csv"))
    assert verdict.verdict == fitness.NOT_FIT
    status = verdict.checks.set_index("check")["status"]
    assert status["duplicate claim_id"] == fitness.FAIL
    assert status["outcome consistency"] == fitness.FAIL
    assert status["label drift (approval rate)"] in (fitness.WARNING, fitness.FAIL)
    assert "NOT FIT" in verdict.summary() and "duplicate claim_id" in verdict.summary()


def test_the_thresholds_decide_and_can_be_changed(demo_files):
    strict = fitness.FitThresholds(min_months=1000)
    verdict = fitness.fit_to_train(demo_files["better"], thresholds=strict)
    assert verdict.verdict == fitness.NOT_FIT
    assert verdict.checks.set_index("check").loc["date coverage (months spanned)", "status"] == fitness.FAIL


def test_missing_values_are_judged_only_where_empty_has_no_meaning(demo_files):
    missing = fitness.fit_to_train(demo_files["base"]).missing.set_index("column")
    assert not missing.loc["benefit_limit", "judged"] and missing.loc["plan_type", "judged"]
    assert missing.loc["plan_type", "missing_share"] == 0


def test_a_significant_shift_against_the_training_profile_warns_and_names_the_field(demo_files):
    claims = load_claims(demo_files["better"]).claims
    profile = build_profile(claims.assign(facility_type="medical_spa"))  # trained only on spas
    verdict = fitness.fit_to_train(demo_files["better"], training_profile=profile)
    assert verdict.verdict == fitness.WARN
    detail = verdict.checks.set_index("check").loc["feature drift (largest PSI)", "detail"]
    assert "facility_type" in detail and "e-0" not in detail  # PSI in plain decimals


def test_label_drift_against_the_champions_training_claims_is_judged(demo_files):
    claims = load_claims(demo_files["better"]).claims
    same = fitness.fit_to_train(demo_files["better"], training_profile=build_profile(claims))
    row = same.checks.set_index("check").loc[LABEL_VS_CHAMPION]
    assert row["status"] == fitness.OK and row["value"] == 0 and "in the champion's" in row["detail"]
    approving = claims.assign(**{TARGET: claims[TARGET].to_numpy() | (np.arange(len(claims)) % 3 == 0)})  # a champion trained on +~20 points
    drifted = fitness.fit_to_train(demo_files["better"], training_profile=build_profile(approving))
    row = drifted.checks.set_index("check").loc[LABEL_VS_CHAMPION]
    assert row["value"] == pytest.approx(approving[TARGET].mean() - claims[TARGET].mean(), abs=1e-4)
    assert row["status"] == fitness.FAIL and drifted.verdict == fitness.NOT_FIT
    assert any(LABEL_VS_CHAMPION in line for line in drifted.reasons())


def test_a_champion_profile_saved_before_approval_rates_is_not_judged_and_changes_nothing(demo_files):
    claims = load_claims(demo_files["better"]).claims
    verdict = fitness.fit_to_train(demo_files["better"], training_profile=input_fields(build_profile(claims)))
    assert verdict.checks.set_index("check").loc[LABEL_VS_CHAMPION, "status"] == fitness.NOT_JUDGED
    assert verdict.verdict == fitness.FIT and "predates approval rates" in verdict.summary()
