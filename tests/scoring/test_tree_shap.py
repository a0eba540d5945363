"""TreeSHAP on the compiled trees (scoring.tree_shap) against the definition of the Shapley
value, computed here the slow way: every subset of features, each valued by walking the trees with
the known features followed and the unknown ones averaged by the nodes' training counts."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from scoring.tree_scoring import CompiledForest
from scoring.tree_shap import BLOCK, ForestExplainer, contributions

FEATURES = 5
MONOTONE = 3  # a 0/1 feature the trees may only rise with


def expected_raw(forest) -> float:
    """The explainer's baseline, the raw score with no feature known."""
    return ForestExplainer.from_forest(forest).baseline


@pytest.fixture(scope="module")
def forest():
    rng = np.random.default_rng(0)
    x = rng.random((3000, FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan  # missing values take each split's learned side
    x[:, MONOTONE] = rng.random(3000) < 0.5
    y = np.nan_to_num(x[:, 0]) + 0.5 * x[:, MONOTONE] - 0.3 * np.nan_to_num(x[:, 1]) + rng.random(3000) > 1.1
    constraints = [1 if column == MONOTONE else 0 for column in range(FEATURES)]
    classifier = HistGradientBoostingClassifier(max_iter=25, max_leaf_nodes=15, monotonic_cst=constraints,
                                                random_state=0)
    classifier.fit(x, y, sample_weight=rng.random(3000))  # weights: counts and weights differ
    return CompiledForest.from_classifier(classifier), x


def _value_knowing(forest: CompiledForest, x: np.ndarray, known: set[int]) -> float:
    def walk(node: int) -> float:
        if forest.is_leaf[node]:
            return forest.value[node]
        left, right = forest.left[node], forest.right[node]
        column = forest.feature[node]
        if column in known:
            if np.isnan(x[column]):
                return walk(left if forest.missing_left[node] else right)
            return walk(left if x[column] <= forest.threshold[node] else right)
        return (forest.cover[left] * walk(left) + forest.cover[right] * walk(right)) / forest.cover[node]
    return forest.baseline + sum(walk(root) for root in forest.roots)


def _shapley(forest: CompiledForest, x: np.ndarray, features: int = FEATURES) -> np.ndarray:
    values = np.zeros(features)
    for feature in range(features):
        others = [other for other in range(features) if other != feature]
        for size in range(features):
            weight = math.factorial(size) * math.factorial(features - size - 1) / math.factorial(features)
            for subset in itertools.combinations(others, size):
                known = set(subset)
                values[feature] += weight * (_value_knowing(forest, x, known | {feature})
                                             - _value_knowing(forest, x, known))
    return values


def test_contributions_are_the_shapley_values_of_the_trees(forest):
    compiled, x = forest
    explained = contributions(compiled, x[:4])
    for row in range(4):
        np.testing.assert_allclose(explained[row], _shapley(compiled, x[row]), atol=1e-12)


def test_contributions_add_up_to_the_raw_score_from_the_baseline(forest):
    compiled, x = forest
    explained = contributions(compiled, x[:500])
    np.testing.assert_allclose(expected_raw(compiled) + explained.sum(axis=1), compiled.raw(x[:500]), atol=1e-9)
    assert expected_raw(compiled) == pytest.approx(_value_knowing(compiled, x[0], set()), abs=1e-12)


def test_a_monotone_feature_at_its_good_value_never_lowers_the_score(forest):
    compiled, x = forest
    explained = contributions(compiled, x[:1000])
    good = x[:1000, MONOTONE] == 1
    assert good.any() and (~good).any()
    assert explained[good, MONOTONE].min() >= 0.0
    assert explained[~good, MONOTONE].max() <= 0.0


def test_deep_trees_that_split_on_the_same_features_again_and_again():
    """Three features and 63 leaves a tree: every path splits on each feature several times, the
    case where an edge takes its subtree back from the edge above on its feature; and the paths
    are as deep as the quadrature's largest rule."""
    rng = np.random.default_rng(1)
    x = rng.random((4000, 3)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    y = np.sin(7 * np.nan_to_num(x[:, 0])) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2]) > rng.random(4000)
    classifier = HistGradientBoostingClassifier(max_iter=8, max_leaf_nodes=63, min_samples_leaf=5, random_state=0)
    compiled = CompiledForest.from_classifier(classifier.fit(x, y))
    assert compiled.depth >= 8
    explained = contributions(compiled, x[:6])
    for row in range(6):
        np.testing.assert_allclose(explained[row], _shapley(compiled, x[row], features=3), atol=1e-11)
    np.testing.assert_allclose(expected_raw(compiled) + contributions(compiled, x).sum(axis=1), compiled.raw(x),
                               atol=1e-9)


@pytest.mark.parametrize("rows", [1, BLOCK // 2, BLOCK // 2 + 1, BLOCK, 2 * BLOCK + 3, 3 * BLOCK - 1])
def test_a_claims_contributions_are_the_same_alone_or_in_a_batch(forest, rows):
    """Batches are walked BLOCK claims in lockstep (the last few padded, or one by one); every claim
    gets the numbers it gets alone, bit for bit, so a batch's answers are its single answers."""
    compiled, x = forest
    explainer = ForestExplainer.from_forest(compiled)
    together = explainer.contributions(x[:rows])
    alone = np.vstack([explainer.contributions(x[row:row + 1]) for row in range(rows)])
    assert together.shape == (rows, FEATURES)
    assert np.array_equal(together, alone)
