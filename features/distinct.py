"""Distinct values of claim columns: what the rules, the diagnosis facts and the encoders share.

Claims repeat a few values, so work is done once per distinct value (or combination of values)
and broadcast back by the factorisation's codes. Below the encoders on purpose: the rules and the
diagnosis facts factorise the same way, and the encoders read the facts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

FEW_ROWS = 64  # up to this many rows (the service's claims), a dict beats pandas' set-up cost

_FIRST_ROW = np.zeros(1, dtype=np.intp)
_FIRST_ROW.setflags(write=False)  # shared by every single-claim call


def column_array(series: pd.Series):
    """A frame column as the 1-D array the encoders read, without needless conversion."""
    dtype = series.dtype
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return series.array  # factorises from its codes / Arrow dictionary, no Python strings
    if isinstance(dtype, np.dtype):
        return series.to_numpy()
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)  # nullable Int64, Float64, boolean
    return series.to_numpy()


def _factorise(values) -> tuple[list, np.ndarray]:
    """(distinct values, each row's index into them). Missing values (None, NaN) share an index
    on the large path and may not on the small one; either way they encode alike."""
    if len(values) <= FEW_ROWS:
        index = {}
        codes = np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.intp,
                            count=len(values))
        return list(index), codes
    codes, uniques = pd.factorize(values)  # faster than use_na_sentinel=False on Python objects
    uniques = list(uniques)
    if len(codes) and codes.min() < 0:
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(None)
    return uniques, codes


def distinct_values(values) -> tuple[list, np.ndarray]:
    """(distinct values, each row's index into them), with a shortcut for the single claim."""
    if isinstance(values, pd.Series):
        values = column_array(values)
    if len(values) == 1:
        return [values[0]], _FIRST_ROW
    return _factorise(values)


def per_distinct(values, read, dtype) -> np.ndarray:
    """read(value) for each row, worked out once per distinct value and broadcast (a 1-D array)."""
    uniques, codes = distinct_values(values)
    return np.array([read(value) for value in uniques], dtype=dtype)[codes]


def distinct_combinations(parts: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct combinations of several factorised columns, given as (row codes, n distinct).

    Returns each row's combination and, per column, each combination's code in that column, so a
    table built per combination is gathered into the output in one step.
    """
    if len(parts[0][0]) == 1:
        return _FIRST_ROW, [codes for codes, _ in parts]
    key, bound = np.zeros(len(parts[0][0]), dtype=np.int64), 1
    for codes, size in parts:
        if bound * size >= 2**62:  # keep the mixed-radix key inside int64: renumber what is there
            distinct, key = _factorise(key)
            key, bound = key.astype(np.int64), len(distinct)
        key, bound = key * size + codes, bound * size
    distinct, inverse = _factorise(key)
    representative = np.empty(len(distinct), dtype=np.intp)  # one row holding each combination
    representative[inverse] = np.arange(len(inverse))
    return inverse, [codes[representative] for codes, _ in parts]
