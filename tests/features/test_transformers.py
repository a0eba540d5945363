"""The four claim encoders: sklearn's estimator checks, then what each output means."""
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from features.catalog import load_catalog
from features.claim_facts import DiagnosisFacts, diagnosis_facts
from features.transformers import (
    CircumstanceEncoder,
    DiagnosisEncoder,
    PolicyEncoder,
    ServiceDateEncoder,
    TreatmentEncoder,
)

ENCODERS = (TreatmentEncoder, PolicyEncoder, DiagnosisEncoder, CircumstanceEncoder, ServiceDateEncoder)


def reading_first_column(encoder_class, **params):
    """The encoder with every input mapped to column 0: sklearn's checks feed unnamed arrays of
    any width (down to one column), so each input reads the one column surely there."""
    return encoder_class(columns=dict.fromkeys(encoder_class.INPUT_COLUMNS, 0), **params)


@parametrize_with_checks([
    reading_first_column(TreatmentEncoder, min_frequency=2),
    reading_first_column(PolicyEncoder),
    reading_first_column(DiagnosisEncoder, min_frequency=2),
    reading_first_column(CircumstanceEncoder),
    reading_first_column(ServiceDateEncoder),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def encode(encoder, frame):
    """{output name: value} of the first row, after fitting on the frame."""
    out = encoder.fit(frame).transform(frame)
    return dict(zip(encoder.get_feature_names_out(), out[0]))


# -- TreatmentEncoder ---------------------------------------------------------------------------

@pytest.mark.parametrize("claim, expected", [
    ({"treatment": "botulinum_toxin", "procedure_code": "64615"},
     {"botulinum_toxin": 1, "unlisted": 0, "category_injectable": 1, "cosmetic_by_default": 1,
      "requires_prior_authorization": 1, "requires_conservative_therapy": 1, "procedure_code_64615": 1}),
    ({"treatment": "weight_management", "procedure_code": "G0447"},
     {"weight_management": 1, "category_weight": 1, "cosmetic_by_default": 0, "requires_prior_authorization": 0,
      "procedure_code_G0447": 1, "procedure_code_other": 0}),
    ({"treatment": "facial", "procedure_code": None}, {"facial": 1, "category_spa": 1, "procedure_code_none": 1}),
    ({"treatment": "facial", "procedure_code": ""}, {"procedure_code_none": 1, "procedure_code_other": 0}),
    ({"treatment": "unlisted", "procedure_code": "17999"},
     {"unlisted": 1, "cosmetic_by_default": 0, **{f"category_{c}": 0 for c in ("laser", "skin", "spa")}}),
    ({"treatment": "no_such_treatment", "procedure_code": "17999"}, {"unlisted": 1}),
])
def test_treatment_encoder_describes_the_catalog_row(make_clean_frame, claim, expected):
    row = encode(TreatmentEncoder(min_frequency=1), make_clean_frame(claim))
    assert {name: row[name] for name in expected} == expected
    assert sum(row[key] for key in load_catalog().keys + ("unlisted",)) == 1


def test_rare_procedure_codes_share_the_other_column(make_clean_frame):
    frame = make_clean_frame(*[{"procedure_code": "64615"}] * 3, {"procedure_code": "J0585"})
    encoder = TreatmentEncoder(min_frequency=2).fit(frame)
    names = list(encoder.get_feature_names_out())
    assert "procedure_code_64615" in names and "procedure_code_J0585" not in names
    out = encoder.transform(make_clean_frame({"procedure_code": "J0585"}, {"procedure_code": "64612"}))
    assert out[:, names.index("procedure_code_other")].tolist() == [1.0, 1.0]


def test_treatment_columns_keep_their_meaning_whatever_the_training_frame_holds(make_clean_frame):
    one = TreatmentEncoder().fit(make_clean_frame({"treatment": "facial"}))
    other = TreatmentEncoder().fit(make_clean_frame({"treatment": "wig"}, {"treatment": "acne_treatment"}))
    assert list(one.get_feature_names_out()) == list(other.get_feature_names_out())


# -- PolicyEncoder -----------------------------------------------------------------------------

@pytest.mark.parametrize("claim, expected", [
    ({"plan_type": "hmo", "benefit_scope": "office_only", "in_network": False},
     {"plan_type_hmo": 1, "plan_type_ppo": 0, "benefit_scope_office_only": 1, "benefit_scope_comprehensive": 0,
      "in_network": 0}),
    ({"plan_type": "medicare_advantage", "benefit_scope": "comprehensive", "in_network": True},
     {"plan_type_medicare_advantage": 1, "plan_type_medicare": 0, "benefit_scope_comprehensive": 1,
      "in_network": 1}),
])
def test_policy_encoder_one_hots_plan_and_scope(make_clean_frame, claim, expected):
    row = encode(PolicyEncoder(), make_clean_frame(claim))
    assert {name: row[name] for name in expected} == expected


# -- DiagnosisEncoder --------------------------------------------------------------------------

@pytest.mark.parametrize("treatment, codes, expected", [
    ("botulinum_toxin", "G43709", {"covered_diagnosis": 1, "primary_diagnosis_covered": 1, "header_code": 0,
                                   "chapter_06": 1, "category_G43": 1, "diagnosis_count": 1}),
    ("facial", "G43709", {"covered_diagnosis": 0, "primary_diagnosis_covered": 0}),
    ("botulinum_toxin", "G437", {"header_code": 1, "header_may_be_covered": 1, "covered_diagnosis": 0}),
    ("botulinum_toxin", "Z411;G43709", {"cosmetic_encounter": 1, "covered_diagnosis": 1,
                                        "primary_diagnosis_covered": 0, "chapter_21": 1, "diagnosis_count": 2}),
    ("weight_management", "Z6835;E6601", {"covered_diagnosis": 1, "chapter_04": 1, "chapter_21": 1}),
    ("botulinum_toxin", "", {"diagnosis_count": 0, "covered_diagnosis": 0, "category_other": 0,
                             **{f"chapter_{n:02d}": 0 for n in range(1, 23)}}),
])
def test_diagnosis_encoder_facts_against_the_treatment(make_clean_frame, treatment, codes, expected):
    frame = make_clean_frame({"treatment": treatment, "diagnosis_codes": codes})
    row = encode(DiagnosisEncoder(min_frequency=1), frame)
    assert {name: row[name] for name in expected} == expected


def test_dotted_and_lower_case_codes_encode_like_clean_ones(make_clean_frame):
    encoder = DiagnosisEncoder(min_frequency=1).fit(make_clean_frame({"diagnosis_codes": "G43709"}))
    out = encoder.transform(make_clean_frame({"diagnosis_codes": "g43.709"}, {"diagnosis_codes": "G43709"}))
    np.testing.assert_array_equal(out[0], out[1])


def test_rare_and_unseen_categories_count_as_other(make_clean_frame):
    frame = make_clean_frame(*[{"diagnosis_codes": "G43709"}] * 3, {"diagnosis_codes": "L700"})
    encoder = DiagnosisEncoder(min_frequency=2).fit(frame)
    names = list(encoder.get_feature_names_out())
    assert "category_G43" in names and "category_L70" not in names
    out = encoder.transform(make_clean_frame({"diagnosis_codes": "L700"}, {"diagnosis_codes": "M5450"},
                                             {"diagnosis_codes": "G43709"}))
    assert out[:, names.index("category_other")].tolist() == [1.0, 1.0, 0.0]


def test_frequent_full_codes_get_their_own_column_beside_the_category(make_clean_frame):
    # L74.510 (armpits) and L74.512 (palms) share L74: payers pay them differently.
    frame = make_clean_frame(*[{"diagnosis_codes": "L74510"}] * 3, *[{"diagnosis_codes": "L74512"}] * 2,
                             {"diagnosis_codes": "L74513"}, *[{"diagnosis_codes": "I10"}] * 2)
    encoder = DiagnosisEncoder(min_frequency=2).fit(frame)
    names = list(encoder.get_feature_names_out())
    assert [name for name in names if name.startswith("code_")] == ["code_L74510", "code_L74512"]  # I10 is a category
    out = encoder.transform(make_clean_frame({"diagnosis_codes": "L74512"}, {"diagnosis_codes": "L74513;L74510"}))
    assert out[:, names.index("code_L74512")].tolist() == [1.0, 0.0]
    assert out[:, names.index("code_L74510")].tolist() == [0.0, 1.0]
    assert out[:, names.index("category_L74")].tolist() == [1.0, 1.0]


def test_max_codes_keeps_the_most_frequent_codes(make_clean_frame):
    frame = make_clean_frame(*[{"diagnosis_codes": "L74510"}] * 3, *[{"diagnosis_codes": "L74512"}] * 2)
    names = DiagnosisEncoder(min_frequency=1, max_codes=1).fit(frame).get_feature_names_out()
    assert [name for name in names if name.startswith("code_")] == ["code_L74510"]
    names = DiagnosisEncoder(min_frequency=1, max_codes=0).fit(frame).get_feature_names_out()
    assert not [name for name in names if name.startswith("code_")]


def test_an_encoder_fitted_before_full_codes_encodes_as_it_did(make_clean_frame):
    """Models saved by earlier versions carry no codes_: their classifier expects the old width."""
    frame = make_clean_frame({"diagnosis_codes": "L74510"})
    encoder = DiagnosisEncoder(min_frequency=1).fit(frame)
    del encoder.codes_, encoder.code_index_
    names = list(encoder.get_feature_names_out())
    assert not [name for name in names if name.startswith("code_")]
    assert encoder.transform(frame).shape == (1, len(names))


def test_handle_unknown_error_raises_on_an_unseen_category_without_naming_it(make_clean_frame):
    encoder = DiagnosisEncoder(min_frequency=1, handle_unknown="error")
    encoder.fit(make_clean_frame({"diagnosis_codes": "G43709"}))
    encoder.transform(make_clean_frame({"diagnosis_codes": "G43719"}))  # same category: fine
    with pytest.raises(ValueError, match="1 claim.* not seen in fit") as error:
        encoder.transform(make_clean_frame({"diagnosis_codes": "M5450"}))
    assert "M54" not in str(error.value)  # codes are patient data


def rules_facts(columns) -> DiagnosisFacts:
    """The facts as the exclusion rules compute them (training.coverage_model): from the raw columns."""
    return diagnosis_facts(columns["treatment"], columns["diagnosis_codes"])


def diagnosis_columns(frame) -> dict:
    return {name: frame[name].to_numpy() for name in DiagnosisEncoder.INPUT_COLUMNS}


@pytest.mark.parametrize("rows", [slice(None), slice(None, None, -1), slice(3, 11), slice(7, 8)],
                         ids=["600 claims", "600 reversed", "8 claims", "one claim"])
def test_passed_in_facts_give_the_output_computed_without_them(varied_frame, rows):
    encoder = DiagnosisEncoder(min_frequency=1).fit(varied_frame)
    frame = varied_frame.iloc[rows]
    columns = diagnosis_columns(frame)
    expected = encoder.transform(frame)
    np.testing.assert_array_equal(encoder.encode_columns(columns, facts=rules_facts(columns)), expected)
    np.testing.assert_array_equal(encoder.encode_columns(columns), expected)


def test_passed_in_facts_are_used_rather_than_computed_again(varied_frame):
    encoder = DiagnosisEncoder(min_frequency=1).fit(varied_frame)
    columns = diagnosis_columns(varied_frame)
    facts = rules_facts(columns)
    inverted = DiagnosisFacts({**facts.arrays, "covered_diagnosis": ~facts["covered_diagnosis"]})
    covered = list(encoder.get_feature_names_out()).index("covered_diagnosis")
    out = encoder.encode_columns(columns, facts=inverted)
    np.testing.assert_array_equal(out[:, covered], ~facts["covered_diagnosis"])


def test_facts_for_other_rows_are_not_used(varied_frame):
    encoder = DiagnosisEncoder(min_frequency=1).fit(varied_frame)
    columns = diagnosis_columns(varied_frame)
    shorter = rules_facts({name: values[:-1] for name, values in columns.items()})
    np.testing.assert_array_equal(encoder.encode_columns(columns, facts=shorter), encoder.transform(varied_frame))


@pytest.mark.parametrize("claim, fact", [
    ({"diagnosis_codes": "g43.709"}, "covered_diagnosis"),
    ({"diagnosis_codes": "G43709; Z411"}, "cosmetic_encounter"),
    ({"treatment": " botulinum_toxin "}, "covered_diagnosis"),
])
def test_facts_of_values_the_encoder_normalises_are_computed_again(make_clean_frame, claim, fact):
    """The rules ask about the raw values, the encoder about normalised ones: here they differ."""
    frame = make_clean_frame(claim, {})
    encoder = DiagnosisEncoder(min_frequency=1).fit(frame)
    columns = diagnosis_columns(frame)
    facts = rules_facts(columns)
    assert not facts[fact][0]  # the raw form is not recognised, the normalised one is
    out = encoder.encode_columns(columns, facts=facts)
    np.testing.assert_array_equal(out, encoder.transform(frame))
    assert out[0, list(encoder.get_feature_names_out()).index(fact)] == 1.0


@pytest.mark.parametrize("params, message", [
    ({"handle_unknown": "infrequent"}, r"handle_unknown must be one of 'ignore', 'error', got 'infrequent'"),
    ({"min_frequency": 0}, r"min_frequency must be an integer >= 1, got 0"),
    ({"min_frequency": 2.5}, r"min_frequency must be an integer >= 1, got 2.5"),
    ({"max_codes": -1}, r"max_codes must be an integer >= 0, got -1"),
    ({"max_codes": "all"}, r"max_codes must be an integer >= 0, got 'all'"),
])
def test_bad_parameters_are_refused_in_fit_saying_what_is_allowed(make_clean_frame, params, message):
    encoder = DiagnosisEncoder(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        encoder.fit(make_clean_frame({}))


# -- CircumstanceEncoder -----------------------------------------------------------------------

@pytest.mark.parametrize("claim, expected", [
    ({"benefit_scope": "office_only", "facility_type": "medical_spa"},
     {"facility_fits_benefit_scope": 0, "facility_is_office": 0, "facility_type_medical_spa": 1}),
    ({"benefit_scope": "office_only", "facility_type": "dermatology_clinic"},
     {"facility_fits_benefit_scope": 1, "facility_is_office": 1}),
    ({"benefit_scope": "comprehensive", "facility_type": "medical_spa"}, {"facility_fits_benefit_scope": 1}),
    ({"treatment": "weight_management", "facility_type": "primary_care_clinic"}, {"setting_fits_treatment": 1}),
    ({"treatment": "weight_management", "facility_type": "medical_spa"}, {"setting_fits_treatment": 0}),
    ({"treatment": "botulinum_toxin", "facility_type": "medical_spa"}, {"setting_fits_treatment": 1}),
    ({"visit_number": 1, "weeks_since_last_treatment": np.nan},
     {"initial_visit": 1, "has_prior_treatment": 0, "below_min_weeks_between": 0}),
    ({"treatment": "botulinum_toxin", "visit_number": 3, "weeks_since_last_treatment": 8.0},
     {"initial_visit": 0, "has_prior_treatment": 1, "below_min_weeks_between": 1, "weeks_since_last_treatment": 8}),
    ({"treatment": "botulinum_toxin", "weeks_since_last_treatment": 12.0}, {"below_min_weeks_between": 0}),
    ({"treatment": "massage_therapy", "weeks_since_last_treatment": 1.0}, {"below_min_weeks_between": 0}),
    ({"treatment": "botulinum_toxin", "patient_age": 16}, {"below_min_age": 1, "patient_age": 16}),
    ({"treatment": "wig", "patient_age": 16}, {"below_min_age": 0}),
    ({"place_of_service": "22"}, {"place_of_service_22": 1, "place_of_service_other": 0}),
    ({"place_of_service": "02"}, {"place_of_service_11": 0, "place_of_service_other": 1}),
    ({"billed_amount": 400.0, "benefit_limit": 1000.0, "benefit_used": 800.0},
     {"benefit_remaining": 200, "benefit_remaining_fraction": 0.5, "benefit_exhausted": 0}),
    ({"billed_amount": 400.0, "benefit_limit": 1000.0, "benefit_used": 1000.0},
     {"benefit_remaining": 0, "benefit_remaining_fraction": 0, "benefit_exhausted": 1}),
    ({"billed_amount": 100.0, "benefit_limit": 1000.0, "benefit_used": 0.0}, {"benefit_remaining_fraction": 1}),
    ({"billed_amount": 0.0, "benefit_limit": 300.0, "benefit_used": 0.0}, {"benefit_remaining_fraction": 1}),
    ({"billed_amount": 400.0, "benefit_limit": np.nan, "benefit_used": 5000.0},
     {"benefit_remaining_fraction": 1, "benefit_exhausted": 0}),
    ({"billed_amount": np.expm1(3.0)}, {"billed_amount_log1p": pytest.approx(3.0)}),
    ({"referral": False, "prior_authorization": True, "medical_necessity_letter": False,
      "conservative_therapy_documented": True},
     {"referral": 0, "prior_authorization": 1, "medical_necessity_letter": 0, "conservative_therapy_documented": 1}),
    # botulinum toxin asks for prior authorization and conservative therapy; a wig asks for neither
    ({"treatment": "botulinum_toxin", "prior_authorization": True, "conservative_therapy_documented": True},
     {"prior_authorization_where_required": 1, "conservative_therapy_where_required": 1}),
    ({"treatment": "botulinum_toxin", "prior_authorization": False, "conservative_therapy_documented": False},
     {"prior_authorization_where_required": 0, "conservative_therapy_where_required": 0}),
    ({"treatment": "wig", "prior_authorization": True, "conservative_therapy_documented": True},
     {"prior_authorization": 1, "prior_authorization_where_required": 0, "conservative_therapy_where_required": 0}),
    ({"treatment": "not_in_catalog", "prior_authorization": True}, {"prior_authorization_where_required": 0}),
])
def test_circumstance_encoder(make_clean_frame, claim, expected):
    row = encode(CircumstanceEncoder(), make_clean_frame(claim))
    assert {name: row[name] for name in expected} == expected


def test_missing_numbers_stay_missing(make_clean_frame):
    frame = make_clean_frame({"weeks_since_last_treatment": np.nan, "benefit_limit": np.nan})
    row = encode(CircumstanceEncoder(), frame)
    assert np.isnan(row["weeks_since_last_treatment"]) and np.isnan(row["benefit_remaining"])


def test_numbers_past_float32_range_stay_finite(make_clean_frame):
    """The contract sets no upper bound; the fuzzer sent 1e308 and the denial model's logits turned NaN."""
    frame = make_clean_frame({"weeks_since_last_treatment": 1e308, "benefit_limit": 1.7e308, "benefit_used": 0.0,
                              "billed_amount": 1.7e308})
    matrix = CircumstanceEncoder().fit(frame).transform(frame)
    assert np.isfinite(matrix).all()


def test_place_of_service_codes_are_a_parameter(make_clean_frame):
    encoder = CircumstanceEncoder(place_of_service_codes=("11", "02")).fit(make_clean_frame({}))
    names = list(encoder.get_feature_names_out())
    assert [n for n in names if n.startswith("place_of_service_")] == [
        "place_of_service_11", "place_of_service_02", "place_of_service_other"]
    with pytest.raises(ValueError, match="place_of_service_codes must be a tuple of distinct non-empty code strings"):
        CircumstanceEncoder(place_of_service_codes="11").fit(make_clean_frame({}))


# -- every encoder -----------------------------------------------------------------------------

@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_feature_names_match_the_output_width_and_are_unique(encoder_class, varied_frame):
    encoder = encoder_class().fit(varied_frame)
    out = encoder.transform(varied_frame)
    names = encoder.get_feature_names_out()
    assert out.dtype == np.float32 and out.shape == (len(varied_frame), len(names))
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_set_output_pandas_gives_a_named_frame(encoder_class, varied_frame):
    encoder = encoder_class().set_output(transform="pandas").fit(varied_frame)
    out = encoder.transform(varied_frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(encoder.get_feature_names_out())
    assert out.index.equals(varied_frame.index)


def as_object_and_str(frame):
    """The same claims with object columns and with pandas' str dtype instead of categories."""
    text_columns = ["treatment", "procedure_code", "diagnosis_codes", "plan_type", "benefit_scope",
                    "facility_type", "place_of_service"]
    objects = frame.assign(**{c: frame[c].astype(object) for c in text_columns},
                           in_network=frame["in_network"].astype(object))
    strings = frame.assign(**{c: frame[c].astype("str") for c in text_columns},
                           visit_number=frame["visit_number"].astype("Int64"),
                           in_network=frame["in_network"].astype("boolean"))
    return objects, strings


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_category_object_and_str_columns_encode_alike(encoder_class, varied_frame):
    encoder = encoder_class(min_frequency=1) if "min_frequency" in encoder_class().get_params() else encoder_class()
    expected = encoder.fit(varied_frame).transform(varied_frame)
    for frame in as_object_and_str(varied_frame):
        np.testing.assert_array_equal(encoder.transform(frame), expected)


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_encode_columns_is_what_transform_returns(encoder_class, varied_frame):
    encoder = encoder_class().fit(varied_frame)
    columns = {name: varied_frame[name].to_numpy() for name in encoder_class.INPUT_COLUMNS}
    np.testing.assert_array_equal(encoder.encode_columns(columns), encoder.transform(varied_frame))
    small = {name: values[:5] for name, values in columns.items()}  # the dict path for a few claims
    np.testing.assert_array_equal(encoder.encode_columns(small), encoder.transform(varied_frame.iloc[:5]))


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_transform_before_fit_raises(encoder_class, make_clean_frame):
    with pytest.raises(NotFittedError):
        encoder_class().transform(make_clean_frame({}))


@pytest.mark.parametrize("encoder_class", ENCODERS)
def test_a_missing_input_column_is_named(encoder_class, make_clean_frame):
    frame = make_clean_frame({}).drop(columns=[encoder_class.INPUT_COLUMNS[-1]])
    with pytest.raises(ValueError, match=f"lacks the column.*{encoder_class.INPUT_COLUMNS[-1]}"):
        encoder_class().fit(frame)


def test_columns_parameter_maps_inputs_to_other_names(make_clean_frame):
    frame = make_clean_frame({"plan_type": "hmo"}).rename(columns={"plan_type": "plan"})
    row = encode(PolicyEncoder(columns={"plan_type": "plan"}), frame)
    assert row["plan_type_hmo"] == 1
    with pytest.raises(ValueError, match="unknown input"):
        PolicyEncoder(columns={"plan": "plan_type"}).fit(frame)


# -- ServiceDateEncoder ------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (pd.Timestamp("2025-01-01"), 2025.0),
    (pd.Timestamp("2024-07-02"), 2024 + 183 / 365.25),
    ("2023-12-31", 2023 + 364 / 365.25),
])
def test_service_date_becomes_a_fractional_year(value, expected):
    frame = pd.DataFrame({"service_date": [value, pd.Timestamp("2020-06-01")]})
    encoder = ServiceDateEncoder().fit(frame)
    assert encoder.transform(frame)[0, 0] == pytest.approx(expected, abs=1e-3)
    single = encoder.encode_columns({"service_date": np.array([pd.Timestamp(value)], dtype=object)})
    assert single[0, 0] == pytest.approx(expected, abs=1e-3)


def test_missing_service_date_is_nan():
    frame = pd.DataFrame({"service_date": pd.to_datetime(["2024-01-01", None])})
    assert np.isnan(ServiceDateEncoder().fit(frame).transform(frame)[1, 0])


def test_a_circumstance_encoder_fitted_before_document_requirements_encodes_as_it_did(make_clean_frame):
    """Models saved by earlier versions carry no treatment_requirements_: their classifier expects the old width."""
    frame = make_clean_frame({"treatment": "botulinum_toxin", "prior_authorization": True})
    encoder = CircumstanceEncoder().fit(frame)
    del encoder.treatment_requirements_
    names = list(encoder.get_feature_names_out())
    assert "prior_authorization_where_required" not in names
    out = encoder.transform(frame)
    assert out.shape == (1, len(names)) and out[0, names.index("prior_authorization")] == 1.0
