"""ServiceDateEncoder: the service date as a fractional year."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.encoders.base import BaseClaimsEncoder
from features.encoding.service_date import ServiceDateEncoding, fractional_years


class ServiceDateEncoder(ServiceDateEncoding, BaseClaimsEncoder):
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

    def __init__(self, columns=None):
        self.columns = columns

    def _fit(self, columns: Mapping) -> None:
        years = fractional_years(columns["service_date"])
        finite = years[np.isfinite(years)]
        self.first_year_ = float(finite.min()) if len(finite) else float("nan")
        self.last_year_ = float(finite.max()) if len(finite) else float("nan")
