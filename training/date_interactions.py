"""Which of the teachers' columns a split on the service date may be combined with
(`teacher_date_interactions`, issue 24).

A payer's policy change touches some plans, treatments and settings, with or without some
paperwork (the regional world's commercial plans began asking prior authorization for massage and
sclerotherapy; the demo payer tightened it for peels, PDT and massage under PPO and Medicare
Advantage). A teacher free to combine the service date with any column learns the newest months
as a shift of everything it splits under, and lowered claims the change never touched
(docs/model.md, "The regional world's Brier gap, diagnosed"). Confined to the columns a policy is
written on, a date split can still say "after March 2025, a PPO massage without an authorization",
and never "after March 2025, every claim with this diagnosis".

The groups are for scikit-learn's `interaction_cst`: a tree branch may combine only
columns of one group. Every column but the date is in the first group, so the teachers lose no
interaction that does not involve the date.
"""
from __future__ import annotations

import numpy as np

from features.pipeline import output_input

DATE_INPUT = "service_date"
# The claim inputs a payer's policy is written on: the date may meet these and nothing else.
POLICY_INPUTS = ("plan_type", "treatment", "procedure_code", "facility_type", "prior_authorization", "referral")


def date_interaction_groups(feature_names: list[str], code_columns: list[tuple[str, ...]]) -> list[list[int]] | None:
    """The two groups of column positions for the teachers' matrix: the features (`feature_names`)
    followed by their category-code columns, each named by the claim inputs it is read from
    (`code_columns`: ("plan_type",), or ("plan_type", "treatment") for a pair's cell).
    None when the features hold no service date (nothing to confine)."""
    inputs = [(_input_of(name),) for name in feature_names] + list(code_columns)
    dated = [at for at, read in enumerate(inputs) if read == (DATE_INPUT,)]
    if not dated:
        return None
    partners = [at for at, read in enumerate(inputs) if read and set(read) <= set(POLICY_INPUTS)]
    everything_else = [at for at in range(len(inputs)) if at not in set(dated)]
    return [everything_else, sorted(dated + partners)]


def _input_of(name: str) -> str | None:
    try:
        return output_input(name)
    except KeyError:  # a learned rule's input (rule__<id>): no claim input of its own
        return None


def code_column_inputs(categories: dict[str, np.ndarray], crossed: tuple[tuple[str, str], ...] = ()) -> list:
    """The claim inputs of the category-code columns training.model_fitting._with_category_codes
    appends, in its order: one per one-hot block it reads, then one per pair of `crossed`."""
    blocks = [name.rsplit("__", 1)[-1] for name, positions in categories.items() if 0 < len(positions) < 254]
    if not blocks:
        return []
    widths = {name.rsplit("__", 1)[-1]: len(positions) for name, positions in categories.items()}
    pairs = [pair for pair in crossed
             if all(source in widths for source in pair) and (widths[pair[0]] + 1) * (widths[pair[1]] + 1) <= 254]
    return [(block,) for block in blocks] + [tuple(pair) for pair in pairs]
