"""Scoring without sklearn's per-call overhead, for one claim and for a million.

sklearn's HistGradientBoosting `predict_proba` pays input validation plus one Cython call per
tree, which for one claim and its what-if variants was most of the service's budget, and walks
deep trees slowly on large batches (the figures are in benchmarks/RESULTS.md). Here
every tree's nodes are packed into flat arrays and a numba-compiled loop walks them: a few claims
row by row (all trees of a row while its features sit in cache), a batch in blocks of rows that
take each step of a tree side by side (scoring.complete_trees for a shallow forest, as the
served one is; _walk_block for a deeper one). The logistic denial model and the isotonic
calibration become a matrix product and `np.interp`. Parity with sklearn is tested
(tests/scoring/test_tree_scoring.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from scoring.complete_trees import FEATURE_BITS, MISSING_LEFT_BIT, SPLITS_APART_BIT, CompleteForest

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


BLOCK_ROWS = 16  # rows walked through a tree side by side (_walk_block)


# A node of the block walk is one row of an int32 (nodes, 3) array: its input and two flags in one
# word (scoring.complete_trees' bits), then its two children. One cache line then brings all the
# walk reads of a node but its threshold, where six separate arrays took six (15-17% faster on a
# batch chunk, RESULTS.md).


def _walk_block(features, twin_features, twin_of_row, start, stop, nodes_of, threshold, value, roots, tree_depth,
                baseline, out, twin_out):
    """Rows start..stop through every tree BLOCK_ROWS at a time, each step of a tree taken for all of
    them before the next: their loads overlap instead of each waiting for the last, and there is no
    exit test per row (leaves point at themselves; a tree stops once no row moves). Each row adds
    the same leaves in the same order as _walk, so the totals are _walk's bit for bit.

    A row's twin (twin_of_row[row] >= 0: a row of twin_features that differs from it in a few
    inputs) goes the row's way until a node marked SPLITS_APART_BIT (one reading an input any twin
    differs in); from there on it is stepped with its own inputs."""
    nodes = np.empty(BLOCK_ROWS, dtype=np.int32)
    twin_nodes = np.empty(BLOCK_ROWS, dtype=np.int32)
    width = stop - start
    for r in range(width):
        out[start + r] = baseline
        twin = twin_of_row[start + r]
        if twin >= 0:
            twin_out[twin] = baseline
    for tree in range(roots.shape[0]):
        for r in range(width):
            nodes[r] = roots[tree]
            twin_nodes[r] = roots[tree]
        for _ in range(tree_depth[tree]):
            moved = False
            for r in range(width):
                row = start + r
                node = nodes[r]
                word = nodes_of[node, 0]
                x = features[row, word & FEATURE_BITS]
                goes_left = (x <= threshold[node]) | (((word & MISSING_LEFT_BIT) != 0) & (x != x))
                step = nodes_of[node, 1] if goes_left else nodes_of[node, 2]
                twin = twin_of_row[row]
                if twin >= 0:
                    twin_node = twin_nodes[r]
                    if twin_node == node and (word & SPLITS_APART_BIT) == 0:
                        twin_nodes[r] = step
                    else:
                        twin_word = nodes_of[twin_node, 0]
                        y = twin_features[twin, twin_word & FEATURE_BITS]
                        twin_goes_left = (y <= threshold[twin_node]) | (((twin_word & MISSING_LEFT_BIT) != 0)
                                                                        & (y != y))
                        twin_step = nodes_of[twin_node, 1] if twin_goes_left else nodes_of[twin_node, 2]
                        moved |= twin_step != twin_node
                        twin_nodes[r] = twin_step
                moved |= step != node
                nodes[r] = step
            if not moved:
                break
        for r in range(width):
            out[start + r] += value[nodes[r]]
            twin = twin_of_row[start + r]
            if twin >= 0:
                twin_out[twin] += value[twin_nodes[r]]


_walk_block_jit = numba.njit(cache=True, nogil=True)(_walk_block)


@numba.njit(cache=True, nogil=True, parallel=True)
def _raw_blocks_parallel(features, twin_features, twin_of_row, nodes_of, threshold, value, roots, tree_depth, baseline):
    out = np.empty(features.shape[0])
    twin_out = np.empty(twin_features.shape[0])
    for block in numba.prange((features.shape[0] + BLOCK_ROWS - 1) // BLOCK_ROWS):
        start = block * BLOCK_ROWS
        _walk_block_jit(features, twin_features, twin_of_row, start, min(start + BLOCK_ROWS, features.shape[0]),
                        nodes_of, threshold, value, roots, tree_depth, baseline, out, twin_out)
    return out, twin_out


@numba.njit(cache=True, nogil=True)
def _raw_blocks_serial(features, twin_features, twin_of_row, nodes_of, threshold, value, roots, tree_depth, baseline):
    out = np.empty(features.shape[0])
    twin_out = np.empty(twin_features.shape[0])
    for start in range(0, features.shape[0], BLOCK_ROWS):
        _walk_block_jit(features, twin_features, twin_of_row, start, min(start + BLOCK_ROWS, features.shape[0]),
                        nodes_of, threshold, value, roots, tree_depth, baseline, out, twin_out)
    return out, twin_out


@numba.njit(cache=True, nogil=True)
def _tree_depths(left, right, is_leaf, roots):
    """Each tree's depth (edges from its root to its deepest leaf)."""
    depths = np.zeros(roots.shape[0], dtype=np.int64)
    stack = np.empty(left.shape[0], dtype=np.int64)
    level = np.zeros(left.shape[0], dtype=np.int64)
    for tree in range(roots.shape[0]):
        stack[0], level[roots[tree]], size = roots[tree], 0, 1
        while size:
            size -= 1
            node = stack[size]
            depths[tree] = max(depths[tree], level[node])
            if not is_leaf[node]:
                for child in (left[node], right[node]):
                    level[child] = level[node] + 1
                    stack[size] = child
                    size += 1
    return depths


def float32_at_most(values: np.ndarray) -> np.ndarray:
    """Each float64 value as the largest float32 not above it (one beyond float32's range: its
    largest finite value; infinities and NaN stay)."""
    with np.errstate(over="ignore"):
        rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


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
        if len(features) > SMALL_BATCH:  # many rows: walked in blocks
            return self.raw_with_twins(features, np.empty((0, features.shape[1]), dtype=np.float32),
                                       np.full(len(features), -1, dtype=np.int64), threads)[0]
        arrays = (self.feature, self.threshold, self.missing_left, self.left, self.right, self.is_leaf,
                  self.value, self.roots, self.baseline)
        return _raw_serial(features, *arrays)

    def raw_with_twins(self, features: np.ndarray, twin_features: np.ndarray, twin_of_row: np.ndarray,
                       threads: int | None = None, may_differ: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores of `features`, raw scores of `twin_features`), equal to two calls of `raw`, for
        twins that each differ from one row in a few inputs (the spa twins of the medical-setting
        floor): `twin_of_row[row]` is the row's twin in `twin_features`, or -1. A forest of complete
        trees (scoring.complete_trees: the served one) walks the twins on their own, since on it they
        part from their rows near the roots; deeper forests walk each twin with its row until a node
        reads an input in which some twin differs from its row. `may_differ`: the only inputs in which
        a twin can differ from its row, when the caller built the twins so (the rest are then not
        compared, only these)."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        twin_features = np.ascontiguousarray(twin_features, dtype=np.float32)
        twin_of_row = np.ascontiguousarray(twin_of_row, dtype=np.int64)
        has_twin = twin_of_row >= 0
        if len(twin_of_row) != len(features) or (has_twin.any() and twin_of_row.max() >= len(twin_features)):
            raise ValueError("twin_of_row must give, for each row, a row of twin_features or -1")
        parallel = bool(threads and threads > 1 and len(features) > SMALL_BATCH)
        if parallel:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        complete = self._complete_form
        if complete is not None:  # a shallow forest: each twin walked on its own costs less (complete_trees)
            return complete.raw(features, self.baseline, parallel), complete.raw(twin_features, self.baseline, parallel)
        candidates = np.arange(features.shape[1]) if may_differ is None else np.asarray(may_differ, dtype=np.int64)
        paired = features[np.ix_(has_twin, candidates)]
        twins = twin_features[np.ix_(twin_of_row[has_twin], candidates)]
        unequal = np.flatnonzero((paired != twins).any(axis=0))  # NaN != NaN: checked below, on these alone
        differ = [candidates[column] for column in unequal if ((paired[:, column] != twins[:, column])
                  & ~(np.isnan(paired[:, column]) & np.isnan(twins[:, column]))).any()]
        nodes_of, threshold, roots, tree_depth = self._block_arrays
        if differ:
            nodes_of = nodes_of.copy()
            nodes_of[np.isin(self.feature, differ) & ~self.is_leaf, 0] |= SPLITS_APART_BIT
        arrays = (nodes_of, threshold, self.value, roots, tree_depth, self.baseline)
        if parallel:
            return _raw_blocks_parallel(features, twin_features, twin_of_row, *arrays)
        return _raw_blocks_serial(features, twin_features, twin_of_row, *arrays)

    @cached_property
    def _complete_form(self) -> CompleteForest | None:
        """The forest as complete trees (scoring.complete_trees), when it is shallow enough."""
        return CompleteForest.of(self.feature, self._thresholds32, self.missing_left, self.left, self.right,
                                 self.is_leaf, self.value, self.roots, self.depth)

    @cached_property
    def _block_arrays(self) -> tuple:
        """The arrays _walk_block reads: each node's row (its input and missing-left flag in one
        word, then its children; a leaf points at itself, so a row at a leaf stays there), the
        thresholds (a leaf's infinite: whatever the input, it stays), the roots, and each tree's depth.

        The thresholds are float32, each the largest float32 not above its float64 threshold: for
        a float32 input x, x <= that iff x <= the float64 one, so every row takes the same branch,
        and half the bytes per node keep more of a deep forest in cache."""
        if len(self.feature) >= 2**31 or self.feature.max(initial=0) > FEATURE_BITS:
            raise ValueError("the block walk packs node numbers in int32 and inputs in 16 bits")
        node = np.arange(len(self.feature), dtype=np.int64)
        nodes_of = np.empty((len(self.feature), 3), dtype=np.int32)
        nodes_of[:, 0] = self.feature | np.where(self.missing_left, MISSING_LEFT_BIT, 0)
        nodes_of[:, 1] = np.where(self.is_leaf, node, self.left)
        nodes_of[:, 2] = np.where(self.is_leaf, node, self.right)
        return (nodes_of, self._thresholds32, self.roots.astype(np.int32),
                _tree_depths(self.left, self.right, self.is_leaf, self.roots))

    @cached_property
    def _thresholds32(self) -> np.ndarray:
        """The block walks' thresholds (see _block_arrays), a leaf's infinite."""
        return float32_at_most(np.where(self.is_leaf, np.inf, self.threshold))

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

    def probability(self, features: np.ndarray, fill_in_place: bool = False) -> np.ndarray:
        """P(class) per row. fill_in_place: a batch's float32 `features` may have its missing values
        filled where they are (a caller done with them), rather than in a copy of the whole matrix."""
        if len(features) <= SMALL_BATCH:
            # einsum sums each row in the same order whatever the batch size (BLAS does not), so a
            # claim answered alone or in a batch gets bit-identical reasons
            filled = np.where(np.isnan(features), self.fill, features.astype(np.float64))
            logits = np.einsum("ij,jk->ik", filled, self.weights) + self.bias
        else:  # batch jobs: float32 BLAS, far faster on many claims (benchmarks/RESULTS.md)
            if fill_in_place and features.dtype == np.float32:
                filled = features
                np.copyto(filled, np.broadcast_to(self.fill.astype(np.float32), filled.shape), where=np.isnan(filled))
            else:
                filled = np.where(np.isnan(features), self.fill.astype(np.float32), features).astype(np.float32,
                                                                                                      copy=False)
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
