"""What every encoder does through BaseClaimsEncoder: sklearn's estimator checks, names, inputs."""
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from features.encoders import (
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


def test_columns_parameter_maps_inputs_to_other_names(make_clean_frame, encode):
    frame = make_clean_frame({"plan_type": "hmo"}).rename(columns={"plan_type": "plan"})
    row = encode(PolicyEncoder(columns={"plan_type": "plan"}), frame)
    assert row["plan_type_hmo"] == 1
    with pytest.raises(ValueError, match="unknown input"):
        PolicyEncoder(columns={"plan": "plan_type"}).fit(frame)
