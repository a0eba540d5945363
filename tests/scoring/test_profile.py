"""The training-data profile stored with the model, and the population stability index (PSI) that
reads served or new claims against it."""
import numpy as np
import pandas as pd
import pytest

from features.contract import TARGET
from scoring.profile import (BOOLEAN_FIELDS, CATEGORICAL_FIELDS, NUMERIC_FIELDS, PSI_MODERATE,
                                    PSI_SIGNIFICANT, build_profile, input_fields, label_profile,
                                    population_stability)


def test_psi_is_near_zero_on_the_same_data_and_large_on_a_shift(test_claims):
    profile = build_profile(test_claims)
    assert max(population_stability(profile, test_claims).values()) < 0.01
    shifted = test_claims.assign(plan_type="medicare", patient_age=test_claims["patient_age"] + 30)
    drift = population_stability(profile, shifted)
    assert drift["plan_type"] > 0.2 and drift["patient_age"] > 0.2


def test_the_models_profile_covers_every_profiled_field_with_shares_summing_to_one(champion_model):
    profile = input_fields(champion_model.training_profile)
    assert set(profile) == {*CATEGORICAL_FIELDS, *BOOLEAN_FIELDS, *NUMERIC_FIELDS}
    for name, spec in profile.items():
        shares = list(spec["shares"].values()) if spec["kind"] == "categorical" else spec["shares"]
        assert sum(shares) == pytest.approx(1.0), name
        if spec["kind"] == "numeric":
            assert len(shares) == len(spec["edges"]) + 1 and spec["edges"] == sorted(spec["edges"]), name


def test_psi_of_the_training_claims_against_their_own_profile_is_zero(champion_model, better_split):
    drift = population_stability(champion_model.training_profile, better_split.train)
    assert set(drift) == set(input_fields(champion_model.training_profile))
    assert max(drift.values()) == pytest.approx(0.0, abs=1e-9)


def test_the_bands_are_ordered_and_a_shift_to_one_category_is_significant(test_claims):
    assert 0 < PSI_MODERATE < PSI_SIGNIFICANT
    profile = build_profile(test_claims)
    for name in CATEGORICAL_FIELDS:
        rarest = min(profile[name]["shares"], key=profile[name]["shares"].get)
        assert population_stability(profile, test_claims.assign(**{name: rarest}))[name] > PSI_SIGNIFICANT, name


def test_a_category_never_seen_in_training_counts_as_drift(test_claims):
    profile = build_profile(test_claims)
    unseen = test_claims.assign(plan_type=np.where(np.arange(len(test_claims)) % 2 == 0, "platinum",
                                                   test_claims["plan_type"].astype(str)))
    assert population_stability(profile, unseen)["plan_type"] > PSI_SIGNIFICANT


def test_fields_of_no_claims_are_left_out_and_columns_may_be_plain_arrays(test_claims):
    profile = build_profile(test_claims)
    columns = {name: test_claims[name].to_numpy() for name in input_fields(profile)}
    assert population_stability(profile, columns) == population_stability(profile, test_claims)
    assert population_stability(profile, {name: np.array([]) for name in input_fields(profile)}) == {}
    assert population_stability(profile, pd.DataFrame(columns).head(0)) == {}


def test_the_models_profile_keeps_the_approval_rate_of_its_training_claims(champion_model, better_split):
    trained_on = label_profile(champion_model.training_profile)
    train = better_split.train
    assert trained_on["claims"] == len(train)
    assert trained_on["approval_rate"] == pytest.approx(train[TARGET].mean())
    assert trained_on["first_date"] == str(train["service_date"].min().date())
    botox = train[train["treatment"] == "botulinum_toxin"]
    assert trained_on["by_treatment"]["botulinum_toxin"] == {"claims": len(botox),
                                                             "approval_rate": pytest.approx(botox[TARGET].mean())}


def test_a_profile_saved_before_the_label_entry_still_reads(better_split):
    claims = better_split.test  # with their outcomes
    old = input_fields(build_profile(claims))  # what models saved before the label entry hold
    assert TARGET not in old and label_profile(old) is None and label_profile(None) is None
    assert population_stability(old, claims) == population_stability(build_profile(claims), claims)
    requests = claims.drop(columns=[TARGET])  # claims without an outcome: no label entry
    assert TARGET not in build_profile(requests)
