"""ClaimsEncoding: what every encoder core shares (features.encoding)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class ClaimsEncoding:
    """A fitted encoder's core: `encode_columns` applies the fitted state to claim columns.

    A subclass declares `INPUT_COLUMNS` and writes `encode_columns`, `_output_names` and, when it
    has one-hot blocks, `one_hot_groups`; the state it reads lives in attributes ending in `_`
    (and its parameters), set by the estimator's fit or restored by scoring.served_form.
    """

    # The clean-frame columns the encoder reads; the `columns` parameter may point any of them elsewhere.
    INPUT_COLUMNS: tuple[str, ...] = ()
    # Single outputs the approval probability may only rise (fall) with: training constrains the
    # classifier on them (features.pipeline.MONOTONIC_INCREASING_FEATURES, with the step's prefix).
    MONOTONIC_INCREASING: tuple[str, ...] = ()
    MONOTONIC_DECREASING: tuple[str, ...] = ()

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{each of INPUT_COLUMNS: 1-D array} -> (n, k) float32."""
        raise NotImplementedError

    def one_hot_groups(self) -> dict[str, list[str]]:
        """{input: its block of outputs}, for blocks of which at most one output is 1 on a claim."""
        return {}

    def _output_names(self) -> list[str]:
        raise NotImplementedError
