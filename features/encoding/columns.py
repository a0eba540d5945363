"""Claim columns as the encoders read them: shared factorisations, and rows worked out once per
distinct combination of values (features.distinct finds them)."""
from __future__ import annotations

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


def rows_per_combination(row, width: int, *columns) -> np.ndarray:
    """(n, width) float32: row(*values) for each claim's values of the columns, worked out once
    per distinct combination and broadcast."""
    distinct = [distinct_values(values) for values in columns]
    inverse, per_column = distinct_combinations([(codes, len(uniques)) for uniques, codes in distinct])
    table = np.array([row(*(uniques[index] for (uniques, _), index in zip(distinct, combination)))
                      for combination in zip(*per_column)], dtype=np.float32).reshape(-1, width)
    return table[inverse]
