"""ServiceDateEncoder: the service date as a fractional year."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.encoders.base import BaseClaimsEncoder
from features.distinct import FEW_ROWS


class ServiceDateEncoder(BaseClaimsEncoder):
    """The service date as a fractional year, `service_year`.

    Payers change their rules (a plan starts asking for prior authorization on a service it did
    not before), so the same claim is judged differently over time. Trees split on this column
    where the policy changed, and a future date falls into the most recent regime, which is what
    a prediction for today should assume. Not monotonic.

    Parameters
    ----------
    columns : mapping or None, default=None
        Where X holds service_date, if not under that name; see BaseClaimsEncoder.

    Attributes
    ----------
    first_year_, last_year_ : float
        The training range of service_year, for reports; NaN when fit saw no date.

    Examples
    --------
    >>> import pandas as pd
    >>> from features.encoders import ServiceDateEncoder
    >>> claims = pd.DataFrame({"service_date": pd.to_datetime(["2025-01-01", "2026-07-02", None])})
    >>> encoder = ServiceDateEncoder().fit(claims)
    >>> encoder.first_year_, round(encoder.last_year_, 3)
    (2025.0, 2026.498)
    >>> encoder.transform(claims)[:, 0].round(1).tolist()
    [2025.0, 2026.5, nan]
    """

    INPUT_COLUMNS = ("service_date",)

    def __init__(self, columns=None):
        self.columns = columns

    def _fit(self, columns: Mapping) -> None:
        years = _years(columns["service_date"])
        finite = years[np.isfinite(years)]
        self.first_year_ = float(finite.min()) if len(finite) else float("nan")
        self.last_year_ = float(finite.max()) if len(finite) else float("nan")

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{service_date: 1-D array} -> (n, 1) float32."""
        return _years(columns["service_date"]).astype(np.float32).reshape(-1, 1)

    def _output_names(self) -> list[str]:
        return ["service_year"]


def _years(values) -> np.ndarray:
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
