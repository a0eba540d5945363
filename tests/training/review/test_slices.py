"""Slices sorted by severity, with intervals, on the session's real models (tests/stores.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.stores import version
from scoring.mlflow_store import REGISTERED_MODEL
from training.promotion_gate import GateParams
from training.review import model_review as review
from training.review import slices
from training.review.versions import load_version

pytestmark = pytest.mark.slow  # the session's trained store


@pytest.fixture(scope="module")
def scored(client, trained_store, test_claims):
    return {run: review.review_scores(load_version(client, REGISTERED_MODEL, version(trained_store, run)), test_claims)
            for run in ("better", "worse")}


def test_the_worse_challengers_slices_are_flagged_most_severe_first(scored, test_claims):
    table = slices.slice_verdicts(scored["worse"], scored["better"], test_claims, GateParams(), resamples=100)
    assert set(table["slice"]) == set(slices.SLICES)
    assert (table["claims"] >= slices.MIN_CLAIMS).all()
    assert table["flagged"].any() and table["flagged"].iloc[0]
    severity = table["worse_by"].dropna().to_numpy()
    assert (np.diff(severity) <= 0).all()
    flagged = table[table["flagged"]]
    assert (flagged["worse_by"] > 0).all() and (flagged["why"] != "").all()
    assert ((table["auc_low"] <= table["auc_difference"] + 1e-12) | table["auc_low"].isna()).all()


def test_a_model_is_never_surely_worse_than_itself(scored, test_claims):
    table = slices.slice_verdicts(scored["better"], scored["better"], test_claims, resamples=50)
    assert not table["flagged"].any()
    assert set(table.loc[table["slice"] == "patient_age_band", "value"]) <= {"0-17", "18-34", "35-49", "50-64", "65-199"}


def test_flagged_slices_are_drawn_red_and_only_they(scored, test_claims):
    worse = slices.slice_verdicts(scored["worse"], scored["better"], test_claims, GateParams(), resamples=50)
    same = slices.slice_verdicts(scored["better"], scored["better"], test_claims, GateParams(), resamples=50)
    table = pd.concat([worse[worse["flagged"]].head(5), same.head(5)], ignore_index=True)  # real verdicts of both kinds
    style = slices.highlight_worse(table).to_html().split("</style>")[0]  # selectors of the red rows
    flagged, calm = table.index[table["flagged"]], table.index[~table["flagged"]]
    assert len(flagged) and len(calm) and "#f8d0d0" in style
    assert all(f"_row{row}_col0," in style for row in flagged)
    assert not any(f"_row{row}_col0," in style for row in calm)
