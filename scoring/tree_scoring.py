"""Scoring without sklearn's per-call overhead, for one claim and for a million.

sklearn's HistGradientBoosting `predict_proba` pays input validation plus one Cython call per
tree, which for one claim and its what-if variants was most of the service's budget, and walks
deep trees slowly on large batches (the figures are in benchmarks/RESULTS.md). Here
every tree's nodes are packed into flat arrays and a numba-compiled loop walks them row by row
(all trees of a row while its features sit in cache). The logistic denial model and the isotonic
calibration become a matrix product and `np.interp`. Parity with sklearn is tested
(tests/scoring/test_tree_scoring.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

SMALL_BATCH = 256  # fewer rows than this are not worth a thread pool


def _walk(features, feature, threshold, missing_left, left, right, is_leaf, value, roots, baseline, out, row):
    total = baseline
    for tree in range(roots.shape[0]):
        node = roots[tree]
        while not is_leaf[node]:
            x = features[row, feature[node]]
            if np.isnan(x):
                node = left[node] if missing_left[node] else right[node]
            elif x <= threshold[node]:
                node = left[node]
            else:
                node = right[node]
        total += value[node]
    out[row] = total


_walk_jit = numba.njit(cache=True, nogil=True)(_walk)


@numba.njit(cache=True, nogil=True)
def _raw_serial(features, feature, threshold, missing_left, left, right, is_leaf, value, roots, baseline):
    out = np.empty(features.shape[0])
    for row in range(features.shape[0]):
        _walk_jit(features, feature, threshold, missing_left, left, right, is_leaf, value, roots, baseline, out, row)
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _raw_parallel(features, feature, threshold, missing_left, left, right, is_leaf, value, roots, baseline):
    out = np.empty(features.shape[0])
    for row in numba.prange(features.shape[0]):
        _walk_jit(features, feature, threshold, missing_left, left, right, is_leaf, value, roots, baseline, out, row)
    return out


def _walk_with_twin(features, twin_features, twin_of_row, feature, threshold, missing_left, left, right, is_leaf,
                    value, roots, baseline, out, twin_out, row):
    """_walk for a row and, when twin_of_row[row] >= 0, for its twin (a row of twin_features that
    differs from it in a few inputs) in the same pass: the twin's path is the row's until the first
    node whose input differs between them, so only from there is the twin walked on its own. Each
    total adds the same leaves in the same order as _walk would: the same bits."""
    twin = twin_of_row[row]
    total = baseline
    twin_total = baseline
    for tree in range(roots.shape[0]):
        node = roots[tree]
        apart = -1  # the first node of the path whose input differs for the twin
        while not is_leaf[node]:
            x = features[row, feature[node]]
            if twin >= 0 and apart < 0:
                y = twin_features[twin, feature[node]]
                if x != y and not (np.isnan(x) and np.isnan(y)):
                    apart = node
            if np.isnan(x):
                node = left[node] if missing_left[node] else right[node]
            elif x <= threshold[node]:
                node = left[node]
            else:
                node = right[node]
        total += value[node]
        if twin < 0:
            continue
        if apart >= 0:
            node = apart
            while not is_leaf[node]:
                x = twin_features[twin, feature[node]]
                if np.isnan(x):
                    node = left[node] if missing_left[node] else right[node]
                elif x <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
        twin_total += value[node]
    out[row] = total
    if twin >= 0:
        twin_out[twin] = twin_total


_walk_with_twin_jit = numba.njit(cache=True, nogil=True)(_walk_with_twin)


@numba.njit(cache=True, nogil=True, parallel=True)
def _raw_with_twins_parallel(features, twin_features, twin_of_row, feature, threshold, missing_left, left, right,
                             is_leaf, value, roots, baseline):
    out = np.empty(features.shape[0])
    twin_out = np.empty(twin_features.shape[0])
    for row in numba.prange(features.shape[0]):
        _walk_with_twin_jit(features, twin_features, twin_of_row, feature, threshold, missing_left, left, right,
                            is_leaf, value, roots, baseline, out, twin_out, row)
    return out, twin_out


@numba.njit(cache=True, nogil=True)
def _raw_with_twins_serial(features, twin_features, twin_of_row, feature, threshold, missing_left, left, right,
                           is_leaf, value, roots, baseline):
    out = np.empty(features.shape[0])
    twin_out = np.empty(twin_features.shape[0])
    for row in range(features.shape[0]):
        _walk_with_twin_jit(features, twin_features, twin_of_row, feature, threshold, missing_left, left, right,
                            is_leaf, value, roots, baseline, out, twin_out, row)
    return out, twin_out


@dataclass(frozen=True)
class CompiledForest:
    """A fitted binary HistGradientBoostingClassifier as flat node arrays."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    cover: np.ndarray  # training claims that reached each node: the explanations' weights (scoring.tree_shap)
    roots: np.ndarray
    depth: int
    baseline: float

    @classmethod
    def from_classifier(cls, classifier) -> "CompiledForest":
        if getattr(classifier, "is_categorical_", None) is not None and np.any(classifier.is_categorical_):
            raise ValueError("categorical splits are not compiled; the feature pipeline is all numeric")
        trees = [predictors[0].nodes for predictors in classifier._predictors]
        offsets = np.cumsum([0] + [len(nodes) for nodes in trees[:-1]])
        nodes = np.concatenate(trees)
        shift = np.repeat(offsets, [len(t) for t in trees])
        leaf = nodes["is_leaf"].astype(bool)
        # A leaf points at itself, so walking past it is a no-op and no per-row exit test is needed.
        left = nodes["left"].astype(np.int64) + shift
        right = nodes["right"].astype(np.int64) + shift
        return cls(feature=nodes["feature_idx"].astype(np.int64), threshold=nodes["num_threshold"].astype(np.float64),
                   missing_left=nodes["missing_go_to_left"].astype(np.bool_), left=left, right=right, is_leaf=leaf,
                   value=nodes["value"].astype(np.float64), cover=nodes["count"].astype(np.float64), roots=offsets.astype(np.int64),
                   depth=int(nodes["depth"].max()), baseline=float(np.ravel(classifier._baseline_prediction)[0]))

    def raw(self, features: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Raw scores (log-odds). threads > 1 spreads rows over numba's pool (batch jobs only:
        a service worker keeps to one thread)."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        arrays = (self.feature, self.threshold, self.missing_left, self.left, self.right, self.is_leaf,
                  self.value, self.roots, self.baseline)
        if threads and threads > 1 and len(features) > SMALL_BATCH:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            return _raw_parallel(features, *arrays)
        return _raw_serial(features, *arrays)

    def raw_with_twins(self, features: np.ndarray, twin_features: np.ndarray, twin_of_row: np.ndarray,
                       threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores of `features`, raw scores of `twin_features`), equal to two calls of `raw`, for
        twins that each differ from one row in a few inputs (the spa twins of the medical-setting
        floor): `twin_of_row[row]` is the row's twin in `twin_features`, or -1. A twin is walked on
        its own only below the first node where its inputs and its row's part, so it costs a
        fraction of a walk."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        twin_features = np.ascontiguousarray(twin_features, dtype=np.float32)
        twin_of_row = np.ascontiguousarray(twin_of_row, dtype=np.int64)
        if len(twin_of_row) != len(features) or (len(twin_of_row) and twin_of_row.max() >= len(twin_features)):
            raise ValueError("twin_of_row must give, for each row, a row of twin_features or -1")
        arrays = (self.feature, self.threshold, self.missing_left, self.left, self.right, self.is_leaf,
                  self.value, self.roots, self.baseline)
        if threads and threads > 1 and len(features) > SMALL_BATCH:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            return _raw_with_twins_parallel(features, twin_features, twin_of_row, *arrays)
        return _raw_with_twins_serial(features, twin_features, twin_of_row, *arrays)

    def probability(self, features: np.ndarray, threads: int | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw(features, threads)))


@dataclass(frozen=True)
class LinearSoftmax:
    """impute (median) -> standardise -> multinomial logistic regression, folded into one
    affine map: (x - mean) / scale @ coef.T + b == x @ (coef / scale).T + (b - (mean / scale) @ coef.T)."""

    fill: np.ndarray
    weights: np.ndarray  # features x classes
    bias: np.ndarray

    @classmethod
    def from_pipeline(cls, pipeline) -> "LinearSoftmax":
        imputer, scaler, logistic = (step for _, step in pipeline.steps)
        weights = (logistic.coef_ / scaler.scale_).T
        bias = logistic.intercept_ - (scaler.mean_ / scaler.scale_) @ logistic.coef_.T
        return cls(fill=imputer.statistics_.astype(np.float64), weights=weights.astype(np.float64),
                   bias=bias.astype(np.float64))

    def probability(self, features: np.ndarray) -> np.ndarray:
        if len(features) <= SMALL_BATCH:
            # einsum sums each row in the same order whatever the batch size (BLAS does not), so a
            # claim answered alone or in a batch gets bit-identical reasons
            filled = np.where(np.isnan(features), self.fill, features.astype(np.float64))
            logits = np.einsum("ij,jk->ik", filled, self.weights) + self.bias
        else:  # batch jobs: float32 BLAS, far faster on many claims (benchmarks/RESULTS.md)
            filled = np.where(np.isnan(features), self.fill.astype(np.float32), features).astype(np.float32, copy=False)
            logits = (filled @ self.weights.astype(np.float32)).astype(np.float64) + self.bias
        if logits.shape[1] == 1:  # two classes: sklearn keeps one column of coefficients
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def isotonic_map(calibrator, raw: np.ndarray) -> np.ndarray:
    """IsotonicRegression.predict (out_of_bounds='clip') as one np.interp."""
    return np.interp(raw, calibrator.X_thresholds_, calibrator.y_thresholds_)
