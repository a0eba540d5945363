"""The training-data profile stored with the model, and the population stability index (PSI) that
reads served or new claims against it."""
import numpy as np
import pandas as pd
import pytest

from training.model.profile import (BOOLEAN_FIELDS, CATEGORICAL_FIELDS, NUMERIC_FIELDS, PSI_MODERATE,
                                    PSI_SIGNIFICANT, build_profile, population_stability)


def test_psi_is_near_zero_on_the_same_data_and_large_on_a_shift(test_claims):
    profile = build_profile(test_claims)
    assert max(population_stability(profile, test_claims).values()) < 0.01
    shifted = test_claims.assign(plan_type="medicare", patient_age=test_claims["patient_age"] + 30)
    drift = population_stability(profile, shifted)
    assert drift["plan_type"] > 0.2 and drift["patient_age"] > 0.2


def test_the_models_profile_covers_every_profiled_field_with_shares_summing_to_one(champion_model):
    profile = champion_model.training_profile
    assert set(profile) == {*CATEGORICAL_FIELDS, *BOOLEAN_FIELDS, *NUMERIC_FIELDS}
    for name, spec in profile.items():
        shares = list(spec["shares"].values()) if spec["kind"] == "categorical" else spec["shares"]
        assert sum(shares) == pytest.approx(1.0), name
        if spec["kind"] == "numeric":
            assert len(shares) == len(spec["edges"]) + 1 and spec["edges"] == sorted(spec["edges"]), name


def test_psi_of_the_training_claims_against_their_own_profile_is_zero(champion_model, better_split):
    drift = population_stability(champion_model.training_profile, better_split.train)
    assert set(drift) == set(champion_model.training_profile)
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
    columns = {name: test_claims[name].to_numpy() for name in profile}
    assert population_stability(profile, columns) == population_stability(profile, test_claims)
    assert population_stability(profile, {name: np.array([]) for name in profile}) == {}
    assert population_stability(profile, pd.DataFrame(columns).head(0)) == {}
