"""The feature pipeline: unfitted on build, readable names, and one row per claim whichever door."""
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from features.claim_facts import diagnosis_facts
from features.contract import CLEAN_COLUMNS
from features.pipeline import (
    MONOTONIC_DECREASING_FEATURES,
    MONOTONIC_INCREASING_FEATURES,
    FEATURE_INPUT_COLUMNS,
    build_feature_pipeline,
    claims_to_columns,
    encode_changed_claims,
    encode_claims,
    encode_claims_into,
    one_hot_groups,
    outputs_reading,
)


@pytest.fixture(scope="module")
def fitted(varied_frame):
    return build_feature_pipeline(procedure_code_min_frequency=5, diagnosis_min_frequency=5).fit(varied_frame)


def test_build_returns_an_unfitted_pipeline():
    with pytest.raises(NotFittedError):
        check_is_fitted(build_feature_pipeline())


def test_output_is_float32_with_one_readable_name_per_column(fitted, varied_frame):
    out = fitted.transform(varied_frame)
    names = list(fitted.get_feature_names_out())
    assert out.dtype == np.float32 and out.shape == (len(varied_frame), len(names))
    assert len(set(names)) == len(names)
    for name in ("treatment__botulinum_toxin", "treatment__procedure_code_64615", "policy__plan_type_hmo",
                 "diagnosis__covered_diagnosis", "diagnosis__chapter_06", "circumstance__prior_authorization",
                 "circumstance__weeks_since_last_treatment"):
        assert name in names
    assert all(name.split("__")[0] in ("treatment", "policy", "diagnosis", "circumstance", "time") for name in names)
    assert "time__service_year" in names


FLAG_FEATURES = ("circumstance__prior_authorization", "circumstance__referral",
                 "circumstance__medical_necessity_letter", "circumstance__conservative_therapy_documented",
                 "policy__in_network", "diagnosis__covered_diagnosis",
                 "circumstance__prior_authorization_where_required",
                 "circumstance__conservative_therapy_where_required")
BENEFIT_FEATURES = ("circumstance__benefit_remaining", "circumstance__benefit_remaining_fraction")


def test_monotonic_features_are_the_flags_and_the_benefit_left(fitted, varied_frame):
    out = fitted.transform(varied_frame)
    names = list(fitted.get_feature_names_out())
    assert set(MONOTONIC_INCREASING_FEATURES) == {*FLAG_FEATURES, *BENEFIT_FEATURES}
    assert MONOTONIC_DECREASING_FEATURES == ("circumstance__benefit_exhausted",)
    for feature in (*MONOTONIC_INCREASING_FEATURES, *MONOTONIC_DECREASING_FEATURES):
        assert names.count(feature) == 1
    for feature in (*FLAG_FEATURES, *MONOTONIC_DECREASING_FEATURES):  # single 0/1 columns
        assert set(np.unique(out[:, names.index(feature)]).tolist()) == {0.0, 1.0}, feature


def test_monotonic_features_follow_their_inputs(fitted, make_clean_frame):
    names = list(fitted.get_feature_names_out())
    frame = make_clean_frame(
        {"prior_authorization": False, "referral": False, "medical_necessity_letter": False,
         "conservative_therapy_documented": False, "in_network": False, "diagnosis_codes": "L908",
         "benefit_limit": 500.0, "benefit_used": 450.0},
        {"prior_authorization": True, "referral": True, "medical_necessity_letter": True,
         "conservative_therapy_documented": True, "in_network": True, "diagnosis_codes": "G43709",
         "benefit_limit": 500.0, "benefit_used": 0.0})
    out = fitted.transform(frame)
    flags = [names.index(feature) for feature in FLAG_FEATURES]
    assert out[0, flags].tolist() == [0.0] * 8 and out[1, flags].tolist() == [1.0] * 8
    for feature in BENEFIT_FEATURES:  # more left on the second claim
        assert out[1, names.index(feature)] > out[0, names.index(feature)], feature


def test_a_scoring_frame_may_lack_or_add_columns_the_pipeline_does_not_read(fitted, varied_frame):
    history = varied_frame.assign(outcome="approved", approved=True)
    pipeline = build_feature_pipeline().fit(history)
    requests = varied_frame[list(FEATURE_INPUT_COLUMNS)].assign(note="ignored")
    np.testing.assert_array_equal(pipeline.transform(requests), pipeline.transform(history))


def test_set_output_pandas_on_the_pipeline(varied_frame):
    pipeline = build_feature_pipeline().set_output(transform="pandas").fit(varied_frame)
    out = pipeline.transform(varied_frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(pipeline.get_feature_names_out())
    assert (out.dtypes == np.float32).all()


def test_encode_claims_on_one_claim_equals_the_pipeline_row(fitted, varied_frame, varied_claim_dicts):
    expected = fitted.transform(varied_frame)
    for row, claim in enumerate(varied_claim_dicts):
        np.testing.assert_array_equal(encode_claims(fitted, claims_to_columns([claim]))[0], expected[row],
                                      err_msg=f"claim {row}: {claim}")


@pytest.mark.parametrize("as_column", [pd.Series.to_numpy, lambda series: series.array, lambda series: series],
                         ids=["to_numpy", "array", "series"])
def test_encode_claims_on_many_claims_equals_transform(fitted, varied_frame, as_column):
    frame = varied_frame.iloc[::2]  # an index with gaps, as after filtering
    columns = {name: as_column(frame[name]) for name in CLEAN_COLUMNS}
    np.testing.assert_array_equal(encode_claims(fitted, columns), fitted.transform(frame))


def test_encode_claims_with_the_rules_facts_equals_transform(fitted, varied_frame, varied_claim_dicts):
    expected = fitted.transform(varied_frame)
    columns = claims_to_columns(varied_claim_dicts)
    facts = diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])
    np.testing.assert_array_equal(encode_claims(fitted, columns, facts), expected)
    for row, claim in enumerate(varied_claim_dicts[:40]):  # the service's single claim
        columns = claims_to_columns([claim])
        facts = diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])
        np.testing.assert_array_equal(encode_claims(fitted, columns, facts)[0], expected[row], err_msg=f"claim {row}")


@pytest.mark.parametrize("facility", ["medical_spa", "physician_office", "dermatology_clinic"])
def test_claims_moved_to_another_facility_encode_as_their_rows_with_the_facility_outputs_again(fitted, varied_frame,
                                                                                             facility):
    """encode_changed_claims (the spa twins of predict) equals encoding the moved claims whole, and
    the outputs outputs_reading names are the only ones that move."""
    columns = {name: varied_frame[name].to_numpy() for name in CLEAN_COLUMNS}
    own = encode_claims(fitted, columns)
    moved = dict(columns, facility_type=np.full(len(varied_frame), facility, dtype=object))
    expected = encode_claims(fitted, moved)
    extra = np.arange(2 * len(own), dtype=np.float32).reshape(-1, 2)  # columns past the pipeline's: copied
    encoded = np.hstack([own, extra])
    got = encode_changed_claims(fitted, moved, encoded, np.arange(len(own)), ("facility_type",))
    np.testing.assert_array_equal(got, np.hstack([expected, extra]))
    np.testing.assert_array_equal(encoded[:, :own.shape[1]], own)  # the claims' own rows are left as they were
    backwards = np.arange(len(own))[::-1]  # rows in another order: the moved claims follow them
    got = encode_changed_claims(fitted, {name: values[backwards] for name, values in moved.items()}, encoded,
                                backwards, ("facility_type",))
    np.testing.assert_array_equal(got, np.hstack([expected, extra])[backwards])
    names = fitted.get_feature_names_out()
    reading = outputs_reading(fitted, ("facility_type",))
    assert {name.split("__")[0] for name in names[reading]} == {"circumstance"}
    moving = np.flatnonzero(((own != expected) & ~(np.isnan(own) & np.isnan(expected))).any(axis=0))
    assert len(moving) and set(moving) <= set(reading)


@pytest.mark.parametrize("trailing", [0, 3])
def test_encode_claims_into_writes_encode_claims_with_room_for_the_callers_columns(fitted, varied_frame,
                                                                                  varied_claim_dicts, trailing):
    columns = claims_to_columns(varied_claim_dicts)
    facts = diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])
    out = encode_claims_into(fitted, columns, facts, trailing)
    expected = fitted.transform(varied_frame)
    assert out.dtype == np.float32 and out.shape == (len(expected), expected.shape[1] + trailing)
    np.testing.assert_array_equal(out[:, :expected.shape[1]], expected)


def test_claims_to_columns_fills_contract_defaults_and_joins_code_lists(fitted, make_clean_frame, varied_claim_dicts):
    claim = dict(varied_claim_dicts[0], diagnosis_codes=["G43.709", "z41.1"])
    for optional in ("conservative_therapy_documented", "visit_number", "weeks_since_last_treatment",
                     "benefit_limit", "benefit_used", "place_of_service"):
        claim.pop(optional)
    columns = claims_to_columns([claim])
    assert columns["diagnosis_codes"][0] == "G43709;Z411"
    assert columns["visit_number"][0] == 1 and np.isnan(columns["benefit_limit"][0])
    frame = make_clean_frame(dict(claim, diagnosis_codes="G43709;Z411", conservative_therapy_documented=False,
                                  visit_number=1, benefit_used=0.0, place_of_service=None))
    np.testing.assert_array_equal(encode_claims(fitted, columns), fitted.transform(frame))


def test_the_fitted_pipeline_survives_skops(fitted, varied_frame):
    data = skops.io.dumps(fitted)
    untrusted = skops.io.get_untrusted_types(data=data)
    assert all(name.startswith(("features.", "sklearn.", "numpy.", "builtins.")) for name in untrusted), untrusted
    loaded = skops.io.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.transform(varied_frame), fitted.transform(varied_frame))


def test_one_hot_groups_are_the_blocks_of_one_input_with_at_most_one_1(fitted, varied_frame):
    out = fitted.transform(varied_frame)
    names = list(fitted.get_feature_names_out())
    groups = one_hot_groups(fitted)
    assert set(groups) == {"treatment__treatment", "treatment__procedure_code", "policy__plan_type",
                           "policy__benefit_scope", "circumstance__facility_type", "circumstance__place_of_service"}
    assert "treatment__botulinum_toxin" in [names[at] for at in groups["treatment__treatment"]]
    assert "policy__plan_type_hmo" in [names[at] for at in groups["policy__plan_type"]]
    for group, positions in groups.items():
        step = group.split("__")[0]
        assert all(names[at].startswith(f"{step}__") for at in positions), group
        assert out[:, positions].sum(axis=1).max() == 1.0, group  # one value per claim, and it is used
    # The treatment, procedure code and plan are always given (unlisted, none): exactly one 1.
    for group in ("treatment__treatment", "treatment__procedure_code", "policy__plan_type"):
        assert np.all(out[:, groups[group]].sum(axis=1) == 1.0), group
