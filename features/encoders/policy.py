"""PolicyEncoder: the plan type, its benefit scope, and whether the provider is in network."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.contract import BENEFIT_SCOPES, MONOTONIC_FLAGS, PLAN_TYPES
from features.encoders.base import BaseClaimsEncoder
from features.encoders.columns import rows_per_combination
from features.encoders.values import one_hot, read_flag, read_text


class PolicyEncoder(BaseClaimsEncoder):
    """The plan: `plan_type_<p>` and `benefit_scope_<s>` one-hot (an unknown value is all zero),
    `in_network` 0/1.

    Parameters
    ----------
    columns : mapping or None, default=None
        Where X holds each input, if not under its name; see BaseClaimsEncoder.

    Attributes
    ----------
    plan_types_ : tuple of str
        The contract's plan types at fit.
    benefit_scopes_ : tuple of str
        The contract's benefit scopes at fit.

    Examples
    --------
    >>> import pandas as pd
    >>> from features.encoders import PolicyEncoder
    >>> claims = pd.DataFrame({"plan_type": pd.Categorical(["hmo", "ppo"]),
    ...                        "benefit_scope": pd.Categorical(["office_only", "comprehensive"]),
    ...                        "in_network": [True, False]})
    >>> encoder = PolicyEncoder().fit(claims)
    >>> list(encoder.get_feature_names_out()[-3:])
    ['benefit_scope_comprehensive', 'benefit_scope_office_only', 'in_network']
    >>> encoder.transform(claims)[:, -3:].tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    """

    INPUT_COLUMNS = ("plan_type", "benefit_scope", "in_network")
    MONOTONIC_INCREASING = tuple(name for name in INPUT_COLUMNS if name in MONOTONIC_FLAGS)

    def __init__(self, columns=None):
        self.columns = columns

    def _fit(self, columns: Mapping) -> None:
        self.plan_types_ = PLAN_TYPES
        self.benefit_scopes_ = BENEFIT_SCOPES

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
