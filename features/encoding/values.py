"""One claim value, or one column of them, as the encoders read it: text, 0/1 flags, numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import TRUE_STRINGS
from features.distinct import distinct_values


def read_text(value) -> str | None:
    """A categorical value as the text the tables use; None when missing."""
    if isinstance(value, str):
        return value.strip() or None
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        if value != value:
            return None
        if float(value).is_integer():  # a code read as a number: 11.0 -> "11"
            return str(int(value))
    return str(value)


def one_hot(vocabulary: tuple, text: str | None, other: bool = False) -> list[float]:
    """One-hot of a text over the vocabulary; outside it all zero, or hot in a last "other"
    column when other=True."""
    row = [0.0] * (len(vocabulary) + other)
    if text in vocabulary:
        row[vocabulary.index(text)] = 1.0
    elif other:
        row[-1] = 1.0
    return row


def read_flag(value) -> bool:
    """A yes/no value; missing counts as no (the contract's default for optional flags)."""
    if isinstance(value, str):
        return value.strip().lower() in TRUE_STRINGS
    if value is None or value is pd.NA or value != value:
        return False
    return bool(value)


def read_flags(values) -> np.ndarray:
    """read_flag of each value, as 0/1 float32."""
    array = np.asarray(values)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype.kind in "iuf":
        return ((array != 0) & ~np.isnan(array)).astype(np.float32)
    uniques, inverse = distinct_values(array)
    return np.array([read_flag(value) for value in uniques], dtype=np.float32)[inverse]


def read_numbers(values) -> np.ndarray:
    """float64, NaN for missing."""
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64, copy=False)
    return np.where(pd.isna(array), np.nan, array).astype(np.float64)
