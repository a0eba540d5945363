"""Exact additive explanations of the classifier: path-dependent TreeSHAP on the compiled trees.

For each claim, every feature column gets a contribution on the classifier's raw scale (log-odds)
such that

    baseline + sum(contributions) == the classifier's raw score for that claim

where `baseline` is the forest's expected raw score over its training claims (each tree's leaves
weighted by how many training claims reached them). The contributions are the Shapley values of
the game "what the trees predict knowing only these inputs", the known inputs followed down each
tree and the unknown ones averaged over the training claims by the nodes' counts (Lundberg, Erion
and Lee, "Consistent individualized feature attribution for tree ensembles", 2018, Algorithm 2;
the same algorithm as `shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")`).

It walks the flat node arrays of training.model.tree_scoring.CompiledForest, so it explains
exactly the trees that score, in a numba-compiled loop (the `shap` package would add ~100 MB of
imports to every service worker for this one function). Cost per claim: trees x leaves x depth^2.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _extend(features, zeros, ones, weights, start, depth, zero_fraction, one_fraction, feature):
    features[start + depth] = feature
    zeros[start + depth] = zero_fraction
    ones[start + depth] = one_fraction
    weights[start + depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        weights[start + i + 1] += one_fraction * weights[start + i] * (i + 1) / (depth + 1)
        weights[start + i] = zero_fraction * weights[start + i] * (depth - i) / (depth + 1)


@numba.njit(cache=True, nogil=True)
def _unwind(features, zeros, ones, weights, start, depth, index):
    one_fraction = ones[start + index]
    zero_fraction = zeros[start + index]
    next_one_portion = weights[start + depth]
    for i in range(depth - 1, -1, -1):
        if one_fraction != 0.0:
            kept = weights[start + i]
            weights[start + i] = next_one_portion * (depth + 1) / ((i + 1) * one_fraction)
            next_one_portion = kept - weights[start + i] * zero_fraction * (depth - i) / (depth + 1)
        else:
            weights[start + i] = weights[start + i] * (depth + 1) / (zero_fraction * (depth - i))
    for i in range(index, depth):
        features[start + i] = features[start + i + 1]
        zeros[start + i] = zeros[start + i + 1]
        ones[start + i] = ones[start + i + 1]


@numba.njit(cache=True, nogil=True)
def _unwound_sum(zeros, ones, weights, start, depth, index):
    one_fraction = ones[start + index]
    zero_fraction = zeros[start + index]
    next_one_portion = weights[start + depth]
    total = 0.0
    if one_fraction != 0.0:
        for i in range(depth - 1, -1, -1):
            share = next_one_portion / ((i + 1) * one_fraction)
            total += share
            next_one_portion = weights[start + i] - share * zero_fraction * (depth - i)
    else:
        for i in range(depth - 1, -1, -1):
            total += weights[start + i] / (zero_fraction * (depth - i))
    return total * (depth + 1)


@numba.njit(cache=True, nogil=True)
def _explain_tree(x, feature, threshold, missing_left, left, right, is_leaf, value, cover, phi, root,
                  path_features, zeros, ones, weights, frames, fractions, dummy_feature):
    """Algorithm 2 of the paper for one tree, its recursion unrolled onto a stack of frames (numba
    cannot load a cached recursive function: it crashes). A frame: (node, unique depth, where the
    parent's path starts, feature the parent split on) and (zero fraction, one fraction)."""
    top = 0
    frames[0, 0], frames[0, 1], frames[0, 2], frames[0, 3] = root, 0, 0, dummy_feature
    fractions[0, 0], fractions[0, 1] = 1.0, 1.0
    while top >= 0:
        node, depth, parent_start, parent_feature = frames[top, 0], frames[top, 1], frames[top, 2], frames[top, 3]
        parent_zero, parent_one = fractions[top, 0], fractions[top, 1]
        top -= 1
        # Each level works on its own copy of the path, laid after its parent's in the same arrays;
        # a subtree writes only beyond its parent's copy, so the parent's stays intact for its other child.
        start = parent_start + depth
        for i in range(depth):
            path_features[start + i] = path_features[parent_start + i]
            zeros[start + i] = zeros[parent_start + i]
            ones[start + i] = ones[parent_start + i]
            weights[start + i] = weights[parent_start + i]
        _extend(path_features, zeros, ones, weights, start, depth, parent_zero, parent_one, parent_feature)
        if is_leaf[node]:
            for i in range(1, depth + 1):
                share = _unwound_sum(zeros, ones, weights, start, depth, i)
                phi[path_features[start + i]] += share * (ones[start + i] - zeros[start + i]) * value[node]
            continue
        split = feature[node]
        observed = x[split]
        # tree_scoring._walk's branch rule, written again on purpose: a shared njit helper was not
        # inlined across numba's cached call and slowed `predict` (farm-bench, 2026-12-02: user CPU +9-40%)
        if np.isnan(observed):
            hot = left[node] if missing_left[node] else right[node]
        elif observed <= threshold[node]:
            hot = left[node]
        else:
            hot = right[node]
        cold = right[node] if hot == left[node] else left[node]
        incoming_zero, incoming_one = 1.0, 1.0
        # A feature split on again higher up is undone here and redone with this split's fractions.
        for i in range(depth + 1):
            if path_features[start + i] == split:
                incoming_zero = zeros[start + i]
                incoming_one = ones[start + i]
                _unwind(path_features, zeros, ones, weights, start, depth, i)
                depth -= 1
                break
        # cold is pushed first so that hot is explained first, in the paper's order
        for child, one_fraction in ((cold, 0.0), (hot, incoming_one)):
            top += 1
            frames[top, 0], frames[top, 1], frames[top, 2], frames[top, 3] = child, depth + 1, start, split
            fractions[top, 0] = cover[child] / cover[node] * incoming_zero
            fractions[top, 1] = one_fraction


@numba.njit(cache=True, nogil=True)
def _contributions(features, feature, threshold, missing_left, left, right, is_leaf, value, cover, roots, depth):
    rows, columns = features.shape
    out = np.zeros((rows, columns + 1))  # the last column collects the root's dummy entry (always 0)
    size = (depth + 2) * (depth + 3) // 2 + depth + 2
    path_features = np.empty(size, dtype=np.int64)
    zeros = np.empty(size)
    ones = np.empty(size)
    weights = np.empty(size)
    frames = np.empty((2 * depth + 4, 4), dtype=np.int64)
    fractions = np.empty((2 * depth + 4, 2))
    for row in range(rows):
        x = features[row]
        phi = out[row]
        for tree in range(roots.shape[0]):
            _explain_tree(x, feature, threshold, missing_left, left, right, is_leaf, value, cover, phi, roots[tree],
                          path_features, zeros, ones, weights, frames, fractions, columns)
    return out[:, :columns]


@numba.njit(cache=True, nogil=True)
def _expected(left, right, is_leaf, value, cover, roots):
    """Sum over trees of each tree's leaf values weighted by the share of training claims reaching them."""
    total = 0.0
    for tree in range(roots.shape[0]):
        stack = [(roots[tree], 1.0)]
        while len(stack):
            node, share = stack.pop()
            if is_leaf[node]:
                total += share * value[node]
            else:
                stack.append((left[node], share * cover[left[node]] / cover[node]))
                stack.append((right[node], share * cover[right[node]] / cover[node]))
    return total


def expected_raw(forest) -> float:
    """The explanations' baseline: the forest's expected raw score (log-odds) over its training claims."""
    return forest.baseline + float(_expected(forest.left, forest.right, forest.is_leaf, forest.value,
                                             forest.cover, forest.roots))


def contributions(forest, features: np.ndarray) -> np.ndarray:
    """Claims x feature columns: each column's TreeSHAP contribution to the raw score (log-odds);
    each row sums, with expected_raw(forest), to forest.raw(features)."""
    features = np.ascontiguousarray(features, dtype=np.float32)
    return _contributions(features, forest.feature, forest.threshold, forest.missing_left, forest.left, forest.right,
                          forest.is_leaf, forest.value, forest.cover, forest.roots, forest.depth)
