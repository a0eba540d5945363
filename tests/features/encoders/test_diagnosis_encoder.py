"""DiagnosisEncoder: chapters, categories and frequent codes, and the facts against the treatment."""
import numpy as np
import pytest

from features.claim_facts import DiagnosisFacts, diagnosis_facts
from features.encoders import DiagnosisEncoder


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
def test_diagnosis_encoder_facts_against_the_treatment(make_clean_frame, encode, treatment, codes, expected):
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


def test_handle_unknown_error_raises_on_an_unseen_category_without_naming_it(make_clean_frame):
    encoder = DiagnosisEncoder(min_frequency=1, handle_unknown="error")
    encoder.fit(make_clean_frame({"diagnosis_codes": "G43709"}))
    encoder.transform(make_clean_frame({"diagnosis_codes": "G43719"}))  # same category: fine
    with pytest.raises(ValueError, match="1 claim.* not seen in fit") as error:
        encoder.transform(make_clean_frame({"diagnosis_codes": "M5450"}))
    assert "M54" not in str(error.value)  # codes are patient data


def rules_facts(columns) -> DiagnosisFacts:
    """The facts as the exclusion rules compute them (features.claim_facts.columns_facts): from the raw columns."""
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
