"""ServiceDateEncoding: the fitted core of features.encoders.ServiceDateEncoder."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.distinct import FEW_ROWS
from features.encoding.base import ClaimsEncoding


class ServiceDateEncoding(ClaimsEncoding):
    """The service date as a fractional year, `service_year` (see ServiceDateEncoder)."""

    INPUT_COLUMNS = ("service_date",)

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{service_date: 1-D array} -> (n, 1) float32."""
        return fractional_years(columns["service_date"]).astype(np.float32).reshape(-1, 1)

    def _output_names(self) -> list[str]:
        return ["service_year"]


def fractional_years(values) -> np.ndarray:
    """Dates -> fractional calendar years (2025-07-02 -> ~2025.5); numbers pass as years; NaN when missing."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array.dtype.kind != "M":
        if len(array) <= FEW_ROWS and all(isinstance(v, pd.Timestamp) for v in array):  # the service's claims
            return np.array([v.year + (v.day_of_year - 1) / 365.25 for v in array], dtype=np.float64)
        array = pd.to_datetime(pd.Series(array, dtype=object), errors="coerce").to_numpy()
    days = array.astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    fraction = (days - years.astype("datetime64[D]")).astype(np.float64) / 365.25
    result = years.astype(np.int64).astype(np.float64) + 1970.0 + fraction
    return np.where(np.isnat(days), np.nan, result)
