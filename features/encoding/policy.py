"""PolicyEncoding: the fitted core of features.encoders.PolicyEncoder."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.contract import MONOTONIC_FLAGS
from features.encoding.base import ClaimsEncoding
from features.encoding.columns import rows_per_combination
from features.encoding.values import one_hot, read_flag, read_text


class PolicyEncoding(ClaimsEncoding):
    """The plan type and benefit scope one-hot over `plan_types_` and `benefit_scopes_`, then
    `in_network` (see PolicyEncoder)."""

    INPUT_COLUMNS = ("plan_type", "benefit_scope", "in_network")
    MONOTONIC_INCREASING = tuple(name for name in INPUT_COLUMNS if name in MONOTONIC_FLAGS)

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{plan_type, benefit_scope, in_network: 1-D arrays} -> (n, k) float32."""
        width = len(self.plan_types_) + len(self.benefit_scopes_) + 1
        return rows_per_combination(self._row, width, columns["plan_type"], columns["benefit_scope"],
                                    columns["in_network"])

    def _row(self, plan_type, benefit_scope, in_network) -> list[float]:
        return [*one_hot(self.plan_types_, read_text(plan_type)),
                *one_hot(self.benefit_scopes_, read_text(benefit_scope)), float(read_flag(in_network))]

    def one_hot_groups(self) -> dict[str, list[str]]:
        return {"plan_type": [f"plan_type_{p}" for p in self.plan_types_],
                "benefit_scope": [f"benefit_scope_{s}" for s in self.benefit_scopes_]}

    def _output_names(self) -> list[str]:
        groups = self.one_hot_groups()
        return [*groups["plan_type"], *groups["benefit_scope"], "in_network"]
