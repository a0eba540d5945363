"""PolicyEncoder: the plan type, its benefit scope, and whether the provider is in network."""
from __future__ import annotations

from collections.abc import Mapping

from features.contract import BENEFIT_SCOPES, PLAN_TYPES
from features.encoders.base import BaseClaimsEncoder
from features.encoding.policy import PolicyEncoding


class PolicyEncoder(PolicyEncoding, BaseClaimsEncoder):
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

    def __init__(self, columns=None):
        self.columns = columns

    def _fit(self, columns: Mapping) -> None:
        self.plan_types_ = PLAN_TYPES
        self.benefit_scopes_ = BENEFIT_SCOPES
