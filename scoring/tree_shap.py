"""Exact additive explanations of the classifier: path-dependent TreeSHAP on the compiled trees.

For each claim, every feature column gets a contribution on the classifier's raw scale (log-odds)
such that

    baseline + sum(contributions) == the classifier's raw score for that claim

where `baseline` is the forest's expected raw score over its training claims (each tree's leaves
weighted by how many training claims reached them). The contributions are the Shapley values of
the game "what the trees predict knowing only these inputs", the known inputs followed down each
tree and the unknown ones averaged over the training claims by the nodes' counts: the values of
`shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")` (Lundberg, Erion and Lee,
2018), computed another way, because their Algorithm 2 was most of a served answer's time.

How. Knowing the inputs S, a tree's walk reaches leaf v with weight prod_j (b_j if j in S else a_j)
over the features j split on along v's path: a_j is the share of training claims that j's edges
on the path keep, b_j is 1 when the claim goes down all of them, else 0. With p_j = b_j / a_j
the leaf's game is value_v x cover_v / cover_root x prod_{j in S} p_j, and its Shapley value for i is

    value_v x cover_v / cover_root x (p_i - 1) x integral_0^1 prod_{j != i} (1 - t + t p_j) dt

(the Shapley weight |S|! (d - |S| - 1)! / d! is the Beta integral of t^|S| (1 - t)^(d - |S| - 1)).
The integrand is a polynomial of degree below d, the number of features on the path, so
Gauss-Legendre quadrature on ceil(d / 2) points integrates it exactly. The sum over leaves is
linear, so an edge credits its feature once for all the leaves below it (the idea of Yu, Xu,
Bifet and Read, "Linear TreeShap", NeurIPS 2022, with quadrature in place of their interpolation):

- down the tree, each node's product of (1 - t + t p_j) at the points, one factor per feature;
- up the tree, each node's sum over its leaves of value x share x product, and each edge credits
  (p - 1) x the weighted sum of that divided by its own factor. A node that splits again on a
  feature takes its subtree back from the edge above, which credited it with the old p.

The layout (every tree in pre-order, each edge's p if the claim goes its way, the quadrature per
tree) depends only on the trees, so it is built once per model (ForestExplainer); a claim then
costs about nodes x points x 5 flops (the time beside Algorithm 2's, and their agreement:
benchmarks/RESULTS.md). The numbers stay near the leaf values: a leaf's share x its product is
at most 1 at every point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@numba.njit(cache=True)
def _pre_order(feature, left, right, is_leaf, roots, sizes):
    """Every tree's nodes in pre-order: the node, its parent's position, and the position of the
    nearest edge above it on the same feature (-1: none), all as positions in this order."""
    node_of = np.empty(sizes.sum(), dtype=np.int64)
    parent_of = np.full(sizes.sum(), -1, dtype=np.int64)
    previous_of = np.full(sizes.sum(), -1, dtype=np.int64)
    stack = np.empty((2 * sizes.max() + 2, 2), dtype=np.int64)
    at = 0
    for tree in range(roots.shape[0]):
        top = 0
        stack[0, 0], stack[0, 1] = roots[tree], -1
        while top >= 0:
            node, parent = stack[top, 0], stack[top, 1]
            top -= 1
            node_of[at], parent_of[at] = node, parent
            if parent >= 0:
                split = feature[node_of[parent]]
                child, above = parent, parent_of[parent]
                while above >= 0:
                    if feature[node_of[above]] == split:
                        previous_of[at] = child
                        break
                    child, above = above, parent_of[above]
            if not is_leaf[node]:
                stack[top + 1, 0], stack[top + 1, 1] = right[node], at
                stack[top + 2, 0], stack[top + 2, 1] = left[node], at
                top += 2
            at += 1
    return node_of, parent_of, previous_of


def _features_on_paths(split_feature: np.ndarray, parent_of: np.ndarray, previous_of: np.ndarray,
                       tree_of: np.ndarray, trees: int) -> np.ndarray:
    """Per tree, the most distinct features on one root-to-leaf path (the quadrature's degree): an
    edge brings a new feature exactly when no edge above it splits on the same one."""
    distinct = np.zeros(len(parent_of), dtype=np.int64)
    for at in np.flatnonzero(parent_of >= 0):  # pre-order: the parent's count is final already
        distinct[at] = distinct[parent_of[at]] + (previous_of[at] < 0)
    most = np.zeros(trees, dtype=np.int64)
    leaves = split_feature < 0
    np.maximum.at(most, tree_of[leaves], distinct[leaves])
    return most


def _gauss_legendre(largest: int) -> tuple[np.ndarray, np.ndarray]:
    """Row n: the n-point Gauss-Legendre points and weights on [0, 1], zero-padded."""
    points, weights = np.zeros((largest + 1, largest)), np.zeros((largest + 1, largest))
    for size in range(1, largest + 1):
        nodes, node_weights = np.polynomial.legendre.leggauss(size)
        points[size, :size], weights[size, :size] = (nodes + 1.0) / 2.0, node_weights / 2.0
    return points, weights


@numba.njit(cache=True, nogil=True)
def _explain(features, split_feature, threshold, missing_left, leaf_value, parent, is_left, previous, split_previous,
             parent_feature, edge_p, starts, sizes, tree_points, rule_points, rule_weights, largest_tree):
    """Claims x columns contributions, from ForestExplainer's arrays: positions in pre-order, and
    parent, previous and split_previous counted from the tree's first position (-1: none)."""
    rows, columns = features.shape
    out = np.zeros((rows, columns))
    most_points = rule_weights.shape[1]
    product = np.empty((largest_tree, most_points))  # prod over the path's features of 1 - t + t p
    below = np.empty((largest_tree, most_points))  # sum over the node's leaves of value x share x product
    inverse = np.empty((largest_tree + 1, most_points))  # 1 / the edge's own factor
    p_of = np.empty(largest_tree + 1)  # the edge's p for this claim: 0 unless it goes down every edge on its feature
    goes_left = np.empty(largest_tree, dtype=np.bool_)
    first = largest_tree  # the row an edge divides by when it is its feature's first on the path: 1s
    # No branch on which way the claim goes: a cold edge is p = 0 in the same arithmetic, which costs
    # fewer cycles than the mispredicted branches did.
    for row in range(rows):
        x = features[row]
        phi = out[row]
        for tree in range(starts.shape[0]):
            start, size, count = starts[tree], sizes[tree], tree_points[tree]
            weights, points = rule_weights[count], rule_points[count]
            for q in range(count):
                product[0, q] = 1.0
                inverse[first, q] = 1.0
            p_of[first] = 1.0
            for local in range(size):  # down, in pre-order: a parent before its children
                at = start + local
                if local > 0:
                    above = parent[at]
                    earlier = previous[at]
                    if earlier < 0:
                        earlier = first
                    # a feature split on again: its factor is redone with both edges (the earlier one divided out)
                    p = edge_p[at] if goes_left[above] == is_left[at] and p_of[earlier] != 0.0 else 0.0
                    p_of[local] = p
                    for q in range(count):
                        factor = 1.0 - points[q] + points[q] * p
                        inverse[local, q] = 1.0 / factor
                        product[local, q] = product[above, q] * factor * inverse[earlier, q]
                scale = leaf_value[at]  # 0 for a split
                for q in range(count):
                    below[local, q] = scale * product[local, q]
                split = split_feature[at]
                if split >= 0:
                    # tree_scoring._walk's branch rule, written again on purpose: a shared njit helper was not
                    # inlined across numba's cached call and slowed `predict`
                    observed = x[split]
                    if np.isnan(observed):
                        goes_left[local] = missing_left[at]
                    else:
                        goes_left[local] = observed <= threshold[at]
            for local in range(size - 1, 0, -1):  # up: children before their parent
                at = start + local
                earlier = split_previous[at]
                if earlier >= 0:  # a repeated split takes its subtree back from the edge above on its feature
                    total = 0.0
                    for q in range(count):
                        total += weights[q] * below[local, q] * inverse[earlier, q]
                    phi[split_feature[at]] -= (p_of[earlier] - 1.0) * total
                total = 0.0  # the edge's credit: (p - 1) x sum_q w_q below(t_q) / (1 - t_q + t_q p)
                for q in range(count):
                    total += weights[q] * below[local, q] * inverse[local, q]
                phi[parent_feature[at]] += (p_of[local] - 1.0) * total
                above = parent[at]
                for q in range(count):
                    below[above, q] += below[local, q]
    return out


# Claims walked in lockstep by _explain_block, a SIMD lane each: 8 doubles fill an AVX-512 register
# (measured: 4 costs 15% more a claim, 16 no less).
BLOCK = 8


@numba.njit(cache=True, nogil=True)
def _explain_block(features, split_feature, threshold, missing_left, leaf_value, parent, is_left, previous,
                   split_previous, parent_feature, edge_p, starts, sizes, tree_points, rule_points, rule_weights,
                   largest_tree):
    """_explain for a multiple of BLOCK claims, BLOCK at a time: the same arithmetic in the same order
    for each claim (so the same numbers, bit for bit), with the claims as the innermost loop, which
    the compiler vectorises; one claim at a time, the loops over a tree's few quadrature points were
    too short for that. A batch request's TreeSHAP was most of its time."""
    rows, columns = features.shape
    out = np.zeros((rows, columns))
    most_points = rule_weights.shape[1]
    product = np.empty((largest_tree, most_points, BLOCK))
    below = np.empty((largest_tree, most_points, BLOCK))
    inverse = np.empty((largest_tree + 1, most_points, BLOCK))
    p_of = np.empty((largest_tree + 1, BLOCK))
    goes_left = np.empty((largest_tree, BLOCK), dtype=np.bool_)
    p = np.empty(BLOCK)
    total = np.empty(BLOCK)
    first = largest_tree
    for block in range(0, rows, BLOCK):
        for tree in range(starts.shape[0]):
            start, size, count = starts[tree], sizes[tree], tree_points[tree]
            weights, points = rule_weights[count], rule_points[count]
            for q in range(count):
                for b in range(BLOCK):
                    product[0, q, b] = 1.0
                    inverse[first, q, b] = 1.0
            for b in range(BLOCK):
                p_of[first, b] = 1.0
            for local in range(size):  # down, in pre-order: a parent before its children
                at = start + local
                if local > 0:
                    above = parent[at]
                    earlier = previous[at]
                    if earlier < 0:
                        earlier = first
                    hot, left = edge_p[at], is_left[at]
                    for b in range(BLOCK):
                        p[b] = hot if goes_left[above, b] == left and p_of[earlier, b] != 0.0 else 0.0
                        p_of[local, b] = p[b]
                    for q in range(count):
                        point = points[q]
                        for b in range(BLOCK):
                            factor = 1.0 - point + point * p[b]
                            inverse[local, q, b] = 1.0 / factor
                            product[local, q, b] = product[above, q, b] * factor * inverse[earlier, q, b]
                scale = leaf_value[at]
                for q in range(count):
                    for b in range(BLOCK):
                        below[local, q, b] = scale * product[local, q, b]
                split = split_feature[at]
                if split >= 0:
                    cut, missing = threshold[at], missing_left[at]
                    for b in range(BLOCK):
                        observed = features[block + b, split]
                        goes_left[local, b] = missing if np.isnan(observed) else observed <= cut
            for local in range(size - 1, 0, -1):  # up: children before their parent
                at = start + local
                earlier = split_previous[at]
                if earlier >= 0:
                    for b in range(BLOCK):
                        total[b] = 0.0
                    for q in range(count):
                        weight = weights[q]
                        for b in range(BLOCK):
                            total[b] += weight * below[local, q, b] * inverse[earlier, q, b]
                    for b in range(BLOCK):
                        out[block + b, split_feature[at]] -= (p_of[earlier, b] - 1.0) * total[b]
                for b in range(BLOCK):
                    total[b] = 0.0
                for q in range(count):
                    weight = weights[q]
                    for b in range(BLOCK):
                        total[b] += weight * below[local, q, b] * inverse[local, q, b]
                feature = parent_feature[at]
                for b in range(BLOCK):
                    out[block + b, feature] += (p_of[local, b] - 1.0) * total[b]
                above = parent[at]
                for q in range(count):
                    for b in range(BLOCK):
                        below[above, q, b] += below[local, q, b]
    return out


@dataclass(frozen=True)
class ForestExplainer:
    """A CompiledForest laid out for _explain, once per model (see the module docstring)."""

    arrays: tuple
    baseline: float  # the forest's expected raw score over its training claims (log-odds)

    @classmethod
    def from_forest(cls, forest) -> "ForestExplainer":
        sizes = np.diff(np.append(forest.roots, len(forest.feature))).astype(np.int64)
        starts = forest.roots.astype(np.int64)
        node_of, parent_of, previous_of = _pre_order(forest.feature, forest.left, forest.right, forest.is_leaf,
                                                     forest.roots, sizes)
        tree_of = np.repeat(np.arange(len(sizes)), sizes)
        offset = starts[tree_of]
        leaf = forest.is_leaf[node_of]
        split_feature = np.where(leaf, -1, forest.feature[node_of])
        has_parent = parent_of >= 0
        parent_node = node_of[np.maximum(parent_of, 0)]
        parent_feature = np.where(has_parent, forest.feature[parent_node], -1)
        is_left = has_parent & (forest.left[parent_node] == node_of)
        # an edge's p when the claim goes its way: 1 / the share kept by this feature's edges down to it
        ratio = np.where(has_parent, forest.cover[node_of] / forest.cover[parent_node], 1.0)
        kept = ratio.copy()
        for at in np.flatnonzero(previous_of >= 0):  # pre-order: the earlier edge is final already
            kept[at] = kept[previous_of[at]] * ratio[at]
        edge_p = 1.0 / kept
        split_previous = np.full(len(node_of), -1, dtype=np.int64)  # a node's split: the edge above on its feature
        split_previous[parent_of[has_parent]] = previous_of[has_parent]
        most = _features_on_paths(split_feature, parent_of, previous_of, tree_of, len(sizes))
        tree_points = np.maximum((most + 1) // 2, 1)
        rule_points, rule_weights = _gauss_legendre(int(tree_points.max()))
        # a leaf's value x its share of the training claims (the product of its path's shares); their
        # sum over every tree is what the forest scores on average: the explanations' baseline
        leaf_value = np.where(leaf, forest.value[node_of] * forest.cover[node_of] / forest.cover[offset], 0.0)

        def local(positions):
            return np.where(positions >= 0, positions - offset, -1).astype(np.int32)

        arrays = (split_feature.astype(np.int32), forest.threshold[node_of], forest.missing_left[node_of], leaf_value,
                  local(parent_of), is_left, local(previous_of), local(split_previous), parent_feature.astype(np.int32),
                  edge_p, starts, sizes, tree_points.astype(np.int64), rule_points, rule_weights, int(sizes.max()))
        return cls(arrays, forest.baseline + float(leaf_value.sum()))

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """Claims x feature columns: each column's TreeSHAP contribution to the raw score (log-odds);
        each row sums, with `baseline`, to the forest's raw score."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        rows = len(features)
        # A block costs about what BLOCK / 2 claims one by one do: the rest of the rows joins a block
        # (padded with copies of the last row) when it is more than that, else goes one by one.
        rest = rows % BLOCK
        if rest > BLOCK // 2:
            features = np.concatenate([features, np.repeat(features[-1:], BLOCK - rest, axis=0)])
            rest = 0
        whole = len(features) - rest
        if not whole:
            return _explain(features, *self.arrays)
        out = np.empty((len(features), features.shape[1]))
        out[:whole] = _explain_block(features[:whole], *self.arrays)
        out[whole:] = _explain(features[whole:], *self.arrays)
        return out[:rows]


def contributions(forest, features: np.ndarray) -> np.ndarray:
    """ForestExplainer.contributions for a one-off: the layout is built for this call."""
    return ForestExplainer.from_forest(forest).contributions(features)
