"""The evaluation figures (training.plots): each is a PNG of its size, and the feature-effects
table has a row per plotted point, on the session's champion and the `better` test claims."""
from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from features.contract import FACILITY_TYPES, TARGET
from training.evaluation import Evaluation, default_truth_path, read_truth
from training.plots import (
    BENEFIT_REMAINING_STEPS,
    CALIBRATION_FILE,
    FEATURE_EFFECTS_FILE,
    ROC_FILE,
    VISIT_NUMBERS,
    feature_effects,
    plot_calibration,
    plot_feature_effects,
    plot_roc,
    write_plots,
)

pytestmark = pytest.mark.slow  # the session's champion

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EFFECT_PANELS = ["prior_authorization", "referral", "in_network", "facility_type", "visit_number",
                 "benefit remaining (USD)"]


def png_size(path) -> tuple[int, int]:
    """(width, height) of a PNG file; fails on anything that is not one."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def test_claims(better_split):
    return better_split.test.iloc[:1500]


@pytest.fixture(scope="module")
def scores(champion_model, test_claims, demo_files) -> pd.DataFrame:
    """What Evaluation.scores holds for these claims: the outcome and each scorer's probability."""
    scored = champion_model.score_frame(test_claims)
    truth = read_truth(default_truth_path(demo_files["better"]))
    return pd.DataFrame({
        TARGET: test_claims[TARGET].to_numpy(dtype=bool), "excluded": scored["excluded"].to_numpy(dtype=bool),
        "system": scored["approval_probability"].to_numpy(dtype=float),
        "classifier": scored["model_probability"].to_numpy(dtype=float),
        "truth": truth.reindex(test_claims["claim_id"].astype(str)).to_numpy(dtype=float),
    }, index=test_claims.index)


@pytest.fixture(scope="module")
def effects(champion_model, test_claims):
    return feature_effects(champion_model, test_claims, sample_rows=300)


@pytest.mark.parametrize("plot, size", [(plot_roc, (600, 600)), (plot_calibration, (600, 700))])
def test_each_evaluation_plot_writes_a_png(scores, tmp_path, plot, size):
    path = plot(scores, tmp_path / "figure.png")
    assert path == tmp_path / "figure.png" and png_size(path) == size


def test_a_test_split_of_one_outcome_still_draws_its_plots(scores, tmp_path):
    approved_only = scores.assign(**{TARGET: True})
    assert png_size(plot_roc(approved_only, tmp_path / "roc.png")) == (600, 600)
    assert png_size(plot_calibration(approved_only, tmp_path / "calibration.png")) == (600, 700)


def test_feature_effects_have_a_row_per_panel_value_and_a_mean_probability(effects):
    assert list(effects.columns) == ["panel", "value", "mean_probability"]
    assert list(dict.fromkeys(effects["panel"])) == EFFECT_PANELS
    assert len(effects) == 3 * 2 + len(FACILITY_TYPES) + len(VISIT_NUMBERS) + len(BENEFIT_REMAINING_STEPS)
    assert effects.loc[effects["panel"] == "facility_type", "value"].tolist() == list(FACILITY_TYPES)
    assert effects["mean_probability"].between(0, 1).all()


@pytest.mark.parametrize("panel", ["prior_authorization", "referral", "in_network"])
def test_paperwork_on_file_never_lowers_the_mean_probability(effects, panel):
    rows = effects[effects["panel"] == panel].set_index("value")["mean_probability"]
    assert rows[True] >= rows[False] - 1e-12


def test_claims_the_rules_all_exclude_have_no_feature_effects(champion_model, test_claims):
    excluded = test_claims[champion_model.excluded(test_claims)]
    assert len(excluded) > 0
    found = feature_effects(champion_model, excluded)
    assert found.empty and list(found.columns) == ["panel", "value", "mean_probability"]


def test_write_plots_writes_the_three_figures_into_a_new_folder(champion_model, scores, test_claims, tmp_path):
    evaluation = Evaluation(metrics={}, report={"ece_bins": 10}, scores=scores)
    written = write_plots(champion_model, evaluation, test_claims.iloc[:300], tmp_path / "plots" / "run")
    assert [path.name for path in written] == [ROC_FILE, CALIBRATION_FILE, FEATURE_EFFECTS_FILE]
    assert [png_size(path) for path in written] == [(600, 600), (600, 700), (1200, 700)]
    assert np.all([path.parent == tmp_path / "plots" / "run" for path in written])


def test_the_feature_effects_figure_draws_a_given_table(effects, tmp_path):
    assert png_size(plot_feature_effects(effects, tmp_path / "effects.png")) == (1200, 700)
