"""Claim columns as the encoders read them: shared factorisations, and rows worked out once per
distinct combination of values (features.distinct finds them)."""
from __future__ import annotations

import weakref
from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.distinct import FEW_ROWS, distinct_combinations, distinct_values


def factorise_object_columns(columns: Mapping, names) -> Mapping:
    """The columns, with large object arrays among `names` turned into Categoricals once, so that
    encoders reading the same column factorise it by its codes rather than each hashing its
    Python strings again (encode_claims on `frame[c].to_numpy()` columns)."""
    shared = columns
    for name in names:
        values = columns[name]
        if isinstance(values, np.ndarray) and values.dtype == object and len(values) > FEW_ROWS:
            codes, uniques = pd.factorize(values)
            shared = dict(shared) if shared is columns else shared
            shared[name] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    return shared


# A served encoder meets the same few combinations (a claim and its what-ifs) request after request:
# up to FEW_ROWS rows, each combination's row is kept per encoder and row function, at most this many
# (then the memo starts again), so a single claim's rows are look-ups rather than factorisations.
MEMO_LIMIT = 4096
_memos: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def rows_per_combination(row, width: int, *columns) -> np.ndarray:
    """(n, width) float32: row(*values) for each claim's values of the columns, worked out once
    per distinct combination and broadcast (for few rows, once per encoder: `_remembered_rows`)."""
    if len(columns[0]) <= FEW_ROWS and hasattr(row, "__self__"):
        return _remembered_rows(row, width, columns)
    distinct = [distinct_values(values) for values in columns]
    inverse, per_column = distinct_combinations([(codes, len(uniques)) for uniques, codes in distinct])
    table = np.array([row(*(uniques[index] for (uniques, _), index in zip(distinct, combination)))
                      for combination in zip(*per_column)], dtype=np.float32).reshape(-1, width)
    return table[inverse]


def _remembered_rows(row, width: int, columns) -> np.ndarray:
    """rows_per_combination of few rows through the memo of the encoder `row` is bound to. A
    combination is the tuple of its values, equal as the small path of features.distinct finds them."""
    encoder = row.__self__
    # its fitted state (sklearn's trailing-underscore attributes), held and compared by identity: a
    # refit (sklearn's estimator checks fit one instance again) starts a new memo
    state = [value for name, value in vars(encoder).items() if name.endswith("_")]
    fitted, memo = _memos.get(encoder, ((), None))
    if memo is None or len(memo) > MEMO_LIMIT or len(fitted) != len(state) or \
            any(held is not value for held, value in zip(fitted, state)):
        memo = {}
        _memos[encoder] = (state, memo)
    function, rows = row.__func__, []
    for values in zip(*(list(column) for column in columns)):
        key = (function, values)
        found = memo.get(key)
        if found is None:
            found = memo[key] = row(*values)
        rows.append(found)
    return np.array(rows, dtype=np.float32).reshape(-1, width)
