"""The compiled tree walk and the denial model's matrix product equal sklearn on the real model."""
import dataclasses

import numpy as np
import pytest

import scoring.complete_trees
from scoring.tree_scoring import FEATURE_BITS, SMALL_BATCH, float32_at_most, isotonic_map


@pytest.fixture(params=["complete trees", "node rows"])
def walked_forest(request, champion_model, monkeypatch):
    """The served forest, its batches walked as complete trees (scoring.complete_trees, its depth
    allowing) or, as a deeper forest's are, by node rows."""
    if request.param == "node rows":
        monkeypatch.setattr(scoring.complete_trees, "COMPLETE_DEPTH_MAX", 0)
    forest = dataclasses.replace(champion_model._compiled()[0])  # a copy: its own cached walk forms
    assert (forest._complete_form is not None) == (request.param == "complete trees")
    return forest


def test_compiled_forest_equals_sklearn(champion_model, test_claims):
    features = champion_model.encode(test_claims)
    features[::7, 5] = np.nan  # missing values take the learned branch
    forest, denial = champion_model._compiled()
    expected = champion_model.classifier.predict_proba(features)[:, 1]
    np.testing.assert_allclose(forest.probability(features), expected, atol=1e-12)
    np.testing.assert_allclose(forest.probability(features, threads=2), expected, atol=1e-12)
    # Both this batch's float32 BLAS path and sklearn on float32 features round in float32, with
    # kernels OpenBLAS picks by CPU: on some CPUs a share moves by about 1e-4 (measured 1.07e-4).
    np.testing.assert_allclose(denial.probability(features), champion_model.denial_model.predict_proba(features),
                               atol=5e-4)
    # A few claims take the float64 path the answers use: equal to sklearn in float64.
    few = features[:50]
    np.testing.assert_allclose(denial.probability(few), champion_model.denial_model.predict_proba(few.astype(np.float64)),
                               atol=1e-9)


def test_denial_model_filling_a_batch_in_place_gives_the_same_bits(champion_model, test_claims):
    features = champion_model.encode(test_claims)
    features[::7, 5] = np.nan  # the filled values are the model's fill, in place as in a copy
    assert len(features) > SMALL_BATCH  # the batch path
    denial = champion_model._compiled()[1]
    expected = denial.probability(features)
    mine = features.copy()
    np.testing.assert_array_equal(denial.probability(mine, fill_in_place=True), expected)
    assert not np.isnan(mine).any()  # filled where it was


def test_isotonic_map_equals_the_fitted_calibrator(champion_model, test_claims):
    raw = champion_model._compiled()[0].probability(champion_model.encode(test_claims))
    np.testing.assert_allclose(isotonic_map(champion_model.calibrator, raw), champion_model.calibrator.predict(raw),
                               atol=1e-12)


def test_twins_walked_with_their_rows_get_the_bits_of_their_own_walk(walked_forest, champion_model, test_claims):
    """The block walk of a batch, with spa twins (score_frame) or without, equals the row-by-row
    walk bit for bit, whether a twin parts from its row at the root, deep down or nowhere, and with
    missing inputs on either side."""
    forest = walked_forest
    features = champion_model.encode(test_claims)
    features[::7, 5] = np.nan
    rng = np.random.default_rng(3)
    twin_of_row = np.where(rng.random(len(features)) < 0.6, -1, 0)
    has_twin = np.flatnonzero(twin_of_row == 0)
    twin_of_row[has_twin] = np.arange(len(has_twin))
    twins = features[has_twin].copy()
    # a third differ in the input of every root (apart at once), a third in one random input, a third not at all
    roots = np.unique(forest.feature[forest.roots])
    thirds = np.array_split(np.arange(len(twins)), 3)
    twins[np.ix_(thirds[0], roots)] = np.where(np.isnan(twins[np.ix_(thirds[0], roots)]), 0.5, np.nan)
    columns = rng.integers(0, features.shape[1], len(thirds[1]))
    twins[thirds[1], columns] = 1.0 - np.nan_to_num(twins[thirds[1], columns])
    def row_by_row(x):  # up to SMALL_BATCH rows a call are walked one row at a time (_walk)
        return np.concatenate([forest.raw(part) for part in np.array_split(x, -(-len(x) // SMALL_BATCH))])

    for threads in (None, 2):
        raw, twin_raw = forest.raw_with_twins(features, twins, twin_of_row, threads)
        np.testing.assert_array_equal(raw, row_by_row(features))
        np.testing.assert_array_equal(twin_raw, row_by_row(twins))
        np.testing.assert_array_equal(forest.raw(features, threads), raw)  # a batch without twins: the blocks alone
        assert not np.array_equal(twin_raw[thirds[0]], raw[has_twin[thirds[0]]])  # the test's twins do differ
        # told the inputs the twins may differ in (a superset of those they do), the walk is the same
        may_differ = np.union1d(roots, columns)
        np.testing.assert_array_equal(forest.raw_with_twins(features, twins, twin_of_row, threads, may_differ)[1],
                                      twin_raw)


def test_block_walk_takes_the_row_walks_branch_beside_every_threshold(walked_forest, champion_model, test_claims):
    """The block walk compares float32 inputs with float32 thresholds: at, just below and just above
    each float64 threshold a row still goes the way the row-by-row walk (float64 thresholds) sends it."""
    forest = walked_forest
    features = champion_model.encode(test_claims)[:4 * SMALL_BATCH]  # more than SMALL_BATCH: the block walk
    rng = np.random.default_rng(5)
    splits = ~forest.is_leaf
    for column in np.unique(forest.feature[splits]):
        nearest = rng.choice(forest.threshold[splits & (forest.feature == column)], len(features)).astype(np.float32)
        step = rng.integers(-1, 2, len(features))
        features[:, column] = np.where(step < 0, np.nextafter(nearest, np.float32(-np.inf)),
                                       np.where(step > 0, np.nextafter(nearest, np.float32(np.inf)), nearest))
    row_by_row = np.concatenate([forest.raw(part) for part in np.array_split(features, 4)])
    np.testing.assert_array_equal(forest.raw(features), row_by_row)


@pytest.mark.parametrize(("value", "expected"), [
    (0.5, np.float32(0.5)),  # a float32 already
    (0.1, np.nextafter(np.float32(0.1), np.float32(0))),  # float32(0.1) is above 0.1
    (0.7, np.float32(0.7)),  # float32(0.7) is below 0.7
    (1e39, np.finfo(np.float32).max),  # beyond float32: its largest value, which every finite x is at most
    (-1e39, np.float32(-np.inf)),
    (np.inf, np.float32(np.inf)),
])
def test_float32_at_most_is_the_largest_float32_not_above(value, expected):
    rounded = float32_at_most(np.array([value]))
    assert rounded.dtype == np.float32 and rounded[0] == expected and float(rounded[0]) <= value


def test_block_walk_refuses_inputs_beyond_what_a_node_word_holds(champion_model):
    forest = champion_model._compiled()[0]
    wide = dataclasses.replace(forest, feature=np.where(forest.is_leaf, forest.feature, FEATURE_BITS + 1))
    with pytest.raises(ValueError, match="16 bits"):
        wide.raw(np.zeros((SMALL_BATCH + 1, FEATURE_BITS + 2), dtype=np.float32))
