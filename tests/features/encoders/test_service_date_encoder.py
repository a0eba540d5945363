"""ServiceDateEncoder: the service date as a fractional year."""
import numpy as np
import pandas as pd
import pytest

from features.encoders import ServiceDateEncoder


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
