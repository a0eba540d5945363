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


# A served encoder meets the same few combinations (a claim and its what-ifs) request after request,
# and a batch job's chunks the same thousand or so: each combination's row is kept per encoder and
# row function, at most this many (then the memo starts again), so a single claim's rows are
# look-ups rather than factorisations, and a chunk computes only the rows no chunk before it did.
MEMO_LIMIT = 4096
_memos: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def rows_per_combination(row, width: int, *columns) -> np.ndarray:
    """(n, width) float32: row(*values) for each claim's values of the columns, worked out once
    per distinct combination and broadcast (through the memo of the encoder `row` is bound to:
    `_remembered`)."""
    remembered = _remembered(row) if hasattr(row, "__self__") else row
    if len(columns[0]) <= FEW_ROWS and remembered is not row:
        rows = [remembered(*values) for values in zip(*(list(column) for column in columns))]
        return np.array(rows, dtype=np.float32).reshape(-1, width)
    distinct = [distinct_values(values) for values in columns]
    inverse, per_column = distinct_combinations([(codes, len(uniques)) for uniques, codes in distinct])
    table = np.array([remembered(*(uniques[index] for (uniques, _), index in zip(distinct, combination)))
                      for combination in zip(*per_column)], dtype=np.float32).reshape(-1, width)
    return table[inverse]


def _remembered(row):
    """`row` through the memo of the encoder it is bound to. A combination is the tuple of its
    values: equal values share a row (a missing value that is not the same object misses, and is
    worked out again)."""
    encoder = row.__self__
    # its fitted state (sklearn's trailing-underscore attributes), held and compared by identity: a
    # refit (sklearn's estimator checks fit one instance again) starts a new memo
    state = [value for name, value in vars(encoder).items() if name.endswith("_")]
    fitted, memo = _memos.get(encoder, ((), None))
    if memo is None or len(memo) >= MEMO_LIMIT or len(fitted) != len(state) or \
            any(held is not value for held, value in zip(fitted, state)):
        memo = {}
        _memos[encoder] = (state, memo)
    function = row.__func__

    def remembered(*values):
        key = (function, values)
        found = memo.get(key)
        if found is None:
            found = row(*values)
            if len(memo) < MEMO_LIMIT:  # a chunk of many distinct combinations keeps the memo bounded
                memo[key] = found
        return found

    return remembered
