"""The classifier's fitting recipe: taught by unconstrained teachers on small histories, its calibration."""
import os

import numpy as np
import pytest

from training.calibration import logistic_calibration
from training.model_fitting import (ModelParams, _float64_rows, _with_category_codes,
                                    fit_coverage_model)


@pytest.fixture(scope="module")
def small_split(better_split):
    return better_split.train.iloc[:8000], better_split.validation.iloc[:2000], better_split.test.iloc[:1000]


def test_a_small_history_is_taught_and_a_large_one_learns_from_labels(small_split):
    train, validation, test = small_split
    taught = fit_coverage_model(train, validation, ModelParams(max_iter=40, teachers=3), progress=False)
    direct = fit_coverage_model(train, validation, ModelParams(max_iter=40, teachers=3, distil_max_rows=100),
                                progress=False)
    assert taught.metadata["classifier_teachers"] == 3 and direct.metadata["classifier_teachers"] == 0
    # Both are real models of the same claims: they agree on the order of most claims.
    a, b = taught.model_probability(test), direct.model_probability(test)
    assert np.corrcoef(a, b)[0, 1] > 0.8


@pytest.mark.parametrize("option", ["teacher_categories", "teacher_plan_treatment", "teacher_date_interactions"])
def test_what_the_teachers_read_changes_what_they_teach_not_what_the_student_reads(small_split, option):
    """The teachers' extra columns (each one-hot block as one category; the plan type x treatment
    cell) change what they say, a little; the served classifier reads the pipeline's columns only."""
    train, validation, test = small_split
    models = [fit_coverage_model(train, validation, ModelParams(max_iter=40, teachers=3, **{option: on}),
                                 progress=False) for on in (True, False)]
    a, b = (model.model_probability(test) for model in models)
    assert not np.allclose(a, b)  # the extra columns changed what the teachers said
    assert np.corrcoef(a, b)[0, 1] > 0.9
    assert all(model.classifier.n_features_in_ == len(model.feature_names) for model in models)


def test_category_codes_name_the_position_of_the_1_or_the_width_when_none():
    features = np.array([[0, 1, 0, 7.5, 1, 0],
                         [1, 0, 0, 2.0, 0, 0],
                         [0, 0, 0, 3.0, 0, 1]], dtype=np.float32)
    wide = np.arange(6, 6 + 254)  # wider than a categorical split takes: left one-hot only
    padded = np.hstack([features, np.zeros((3, 254), np.float32)])
    out, mask = _with_category_codes(padded, {"plan": np.array([0, 1, 2]), "scope": np.array([4, 5]), "code": wide})
    np.testing.assert_array_equal(out[:, :padded.shape[1]], padded)
    np.testing.assert_array_equal(out[:, padded.shape[1]:], [[1, 0], [0, 2], [3, 1]])
    assert mask.tolist() == [False] * padded.shape[1] + [True, True]
    unchanged, no_mask = _with_category_codes(features, {})
    assert unchanged is features and no_mask is None


def test_a_crossed_pair_of_blocks_adds_one_category_per_cell():
    # plan block (3 wide) x treatment block (2 wide): the cell is plan position * 3 + treatment position,
    # a block with no 1 counting as its width, as for the blocks themselves
    features = np.array([[0, 1, 0, 0, 1],
                         [1, 0, 0, 1, 0],
                         [0, 0, 0, 0, 0]], dtype=np.float32)
    blocks = {"policy__plan_type": np.array([0, 1, 2]), "treatment__treatment": np.array([3, 4])}
    out, mask = _with_category_codes(features, blocks, (("plan_type", "treatment"),))
    np.testing.assert_array_equal(out[:, 5:], [[1, 1, 1 * 3 + 1], [0, 0, 0 * 3 + 0], [3, 2, 3 * 3 + 2]])
    assert mask.tolist() == [False] * 5 + [True] * 3
    # a pair whose cells a categorical split cannot take, or a block the pipeline lacks: no column
    wide = {**blocks, "treatment__procedure_code": np.arange(5, 5 + 100)}
    padded = np.hstack([features, np.zeros((3, 100), np.float32)])
    for crossed in ((("plan_type", "procedure_code"),), (("plan_type", "facility_type"),)):
        assert _with_category_codes(padded, wide, crossed)[0].shape[1] == padded.shape[1] + 3  # the blocks alone


def test_rows_for_the_boosted_trees_are_the_selected_rows_in_float64_across_chunks():
    """What the trees are fitted on must be the very numbers scikit-learn's own float32 to float64
    conversion of `features[rows]` gives, whichever rows and however many chunks fill it."""
    features = np.random.default_rng(0).normal(size=(1000, 7)).astype(np.float32)
    mask = np.random.default_rng(1).random(1000) < 0.7
    twice = np.r_[np.flatnonzero(mask), np.flatnonzero(mask)]
    for rows in (mask, twice):
        built = _float64_rows(features, rows, chunk=64)
        assert built.dtype == np.float64 and built.flags.c_contiguous
        np.testing.assert_array_equal(built, features[rows].astype(np.float64))


@pytest.mark.parametrize("teachers", [0, 1])
def test_fewer_than_two_teachers_means_learning_from_labels(small_split, teachers):
    train, validation, _ = small_split
    model = fit_coverage_model(train, validation, ModelParams(max_iter=20, teachers=teachers), progress=False)
    assert model.metadata["classifier_teachers"] == 0


def test_logistic_calibration_is_an_increasing_table_close_to_the_logistic_map():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.02, 0.98, 5000)
    outcome = rng.random(5000) < np.clip(raw * 0.8 + 0.05, 0, 1)  # over-confident scores
    table = logistic_calibration(raw, outcome)
    grid = np.linspace(0, 1, 1001)
    mapped = np.interp(grid, table.X_thresholds_, table.y_thresholds_)
    assert np.all(np.diff(mapped) >= 0)
    assert mapped[0] > 0.0 and mapped[-1] < 1.0  # shrinks the over-confident ends
    assert abs(np.interp(0.5, table.X_thresholds_, table.y_thresholds_) - 0.45) < 0.05


def test_logistic_calibration_refuses_a_decreasing_map_and_a_single_class():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 2000)
    assert logistic_calibration(raw, rng.random(2000) < 1 - raw) is None  # would turn the constraints around
    assert logistic_calibration(raw, np.ones(2000, dtype=bool)) is None


def _boosting_data(rows=1500, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6)).astype(np.float32)
    y = rng.random(rows) < 1 / (1 + np.exp(-(x[:, 0] - 0.5 * x[:, 1] + 0.3 * x[:, 2] * x[:, 3])))
    return x[: rows * 3 // 4], y[: rows * 3 // 4], x[rows * 3 // 4:], y[rows * 3 // 4:]


@pytest.mark.parametrize("progress", [False, True])
def test_a_fit_with_a_progress_bar_is_the_fit_of_one_call_and_the_bar_counts_every_tree(monkeypatch, progress):
    """The bar reads scikit-learn's verbose lines: the fit is one call (the same trees, early
    stopping where one call stops), the bar ends at the trees grown, and nothing reaches stdout."""
    import functools
    import io
    import re
    import sys

    from tqdm.auto import tqdm

    from training import model_fitting

    x, y, x_val, y_val = _boosting_data()
    params = ModelParams(max_iter=200, learning_rate=0.3, n_iter_no_change=5)
    one_call = model_fitting._boosted_trees(params).fit(x, y, X_val=x_val, y_val=y_val)
    assert one_call.n_iter_ < params.max_iter  # early stopping ended it: the case worth checking
    shown = io.StringIO()
    # tqdm as the code makes it, only writing here and showing every update
    monkeypatch.setattr(model_fitting, "tqdm", functools.partial(tqdm, file=shown, mininterval=0))
    stdout = sys.stdout
    fitted = model_fitting._fit_with_progress(model_fitting._boosted_trees(params), "test", progress, x, y,
                                              X_val=x_val, y_val=y_val)
    assert sys.stdout is stdout
    assert fitted.n_iter_ == one_call.n_iter_ and fitted.verbose == 0
    np.testing.assert_array_equal(fitted.decision_function(x_val), one_call.decision_function(x_val))
    if progress:
        counts = [int(count) for count in re.findall(rf"(\d+)/{params.max_iter}", shown.getvalue())]
        assert max(counts) == one_call.n_iter_ and len(set(counts)) > 2  # it moved, up to the last tree
        assert "[1/" not in shown.getvalue()  # the verbose lines moved the bar and went no further


def test_teachers_fitted_side_by_side_teach_what_they_teach_one_after_another(small_split, monkeypatch):
    from training import teacher_pool

    train, validation, test = small_split
    monkeypatch.setattr(teacher_pool, "PARALLEL_TEACHERS_MIN_ROWS", 0)  # processes even for a small history
    train, validation = train.iloc[:3000], validation.iloc[:800]  # the processes' start is the cost to keep down
    models = [fit_coverage_model(train, validation, ModelParams(max_iter=15, teachers=2, teacher_processes=processes),
                                 progress=False) for processes in (1, 2)]
    assert teacher_pool.teacher_processes(ModelParams(teachers=2, teacher_processes=2), 3000) == 2
    np.testing.assert_array_equal(*(model.model_probability(test) for model in models))


def test_workers_started_early_are_the_ones_the_teachers_use(monkeypatch):
    from training import teacher_pool

    monkeypatch.setattr(teacher_pool, "PARALLEL_TEACHERS_MIN_ROWS", 0)
    started = teacher_pool.start_teacher_processes(ModelParams(teachers=2, teacher_processes=2), 3000)
    assert started is not None
    ready = started.result()
    assert 1 <= len(ready) <= 2 and os.getpid() not in ready
    seen = set().union(*(teacher_pool.worker_ids(2) for _ in range(3)))  # as the teachers call the pool
    assert len(ready | seen) <= 2  # a pool started again would have new process ids
    assert teacher_pool.start_teacher_processes(ModelParams(teachers=2, teacher_processes=1), 3000) is None


def test_run_training_starts_workers_only_for_a_fit_that_teaches(monkeypatch):
    from training import teacher_pool

    monkeypatch.setattr(teacher_pool, "PARALLEL_TEACHERS_MIN_ROWS", 100)
    params = ModelParams(teachers=2, teacher_processes=2, distil_max_rows=1000)
    assert teacher_pool.start_teachers_for(ModelParams(teachers=1, teacher_processes=2), 500) is None
    assert teacher_pool.start_teachers_for(params, 1200) is None  # 1,080 to learn from: past distil_max_rows
    assert teacher_pool.start_teachers_for(params, 100) is None  # 90: too few for processes
    started = teacher_pool.start_teachers_for(params, 1000)
    assert started is not None and 1 <= len(started.result()) <= 2
