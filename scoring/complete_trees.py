"""A shallow forest padded to complete trees, and a batch walk that needs no child pointers.

Every tree of depth at most COMPLETE_DEPTH_MAX becomes a complete binary tree of the forest's
depth D: its internal nodes numbered level by level (node k's children are 2k + 1 and 2k + 2), then
2^D leaf slots. A leaf of the fitted tree above depth D becomes a node that sends every row left
(threshold +inf, missing values left) with its value copied into each leaf slot below it. A row
then takes exactly D steps per tree, each an index computed from the last and no child read
from memory, LANES rows side by side. Each row adds the same leaves in the same order as
scoring.tree_scoring's row walk, so the same bits. On the served forest (200 trees of depth 8) a
100,000-claim chunk's rows and spa twins take 0.20 s, where the node-row walk (tree_scoring's
_walk_block, still used for deeper forests) took 0.25 s walking each twin beside its row: on
these trees the twins part from their rows near the roots, so walking them beside their rows
saved little and cost a test on every step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

COMPLETE_DEPTH_MAX = 10  # 2^10 slots a tree: 2 MB for 200 trees; deeper forests keep the node-row walk
FEATURE_BITS = 0xFFFF
MISSING_LEFT_BIT = 1 << 16  # a row missing the node's input goes left
SPLITS_APART_BIT = 1 << 17  # the node-row walk's (scoring.tree_scoring): it reads an input a twin differs in


@dataclass(frozen=True)
class CompleteForest:
    words: np.ndarray  # (trees, 2^D - 1) int32: the node's input | MISSING_LEFT_BIT
    thresholds: np.ndarray  # (trees, 2^D - 1) float32
    leaf_values: np.ndarray  # (trees, 2^D) float64
    depth: int

    @classmethod
    def of(cls, feature, threshold32, missing_left, left, right, is_leaf, value, roots, depth: int) -> "CompleteForest | None":
        """The forest's complete form (threshold32: its float32 thresholds), or None when it is
        deeper than COMPLETE_DEPTH_MAX or has more inputs than a word holds."""
        if depth > COMPLETE_DEPTH_MAX or feature.max(initial=0) > FEATURE_BITS:
            return None
        internal = 2**depth - 1
        words = np.full((len(roots), internal), MISSING_LEFT_BIT, dtype=np.int32)
        thresholds = np.full((len(roots), internal), np.inf, dtype=np.float32)
        leaf_values = np.zeros((len(roots), internal + 1))
        _fill(feature, threshold32, missing_left, left, right, is_leaf, value, roots, depth, words, thresholds,
              leaf_values)
        return cls(words, thresholds, leaf_values, depth)

    def raw(self, features: np.ndarray, baseline: float, parallel: bool) -> np.ndarray:
        """Raw scores of float32 C-ordered `features` (parallel: over numba's threads)."""
        if not len(features):
            return np.empty(0)
        walk = _complete_parallel if parallel else _complete_serial
        return walk(features, self.words, self.thresholds, self.leaf_values, self.depth, baseline)


@numba.njit(cache=True)
def _fill(feature, threshold32, missing_left, left, right, is_leaf, value, roots, depth, words, thresholds, leaf_values):
    internal = 2**depth - 1
    stack = np.empty((2 * depth + 2, 3), dtype=np.int64)  # (node, position, level)
    for tree in range(roots.shape[0]):
        top = 0
        stack[0, 0], stack[0, 1], stack[0, 2] = roots[tree], 0, 0
        while top >= 0:
            node, position, level = stack[top, 0], stack[top, 1], stack[top, 2]
            top -= 1
            if is_leaf[node]:  # its value in every leaf slot below its position
                first = last = position
                for _ in range(depth - level):
                    first, last = 2 * first + 1, 2 * last + 2
                leaf_values[tree, first - internal:last - internal + 1] = value[node]
                continue
            words[tree, position] = feature[node] | (MISSING_LEFT_BIT if missing_left[node] else 0)
            thresholds[tree, position] = threshold32[node]
            stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = right[node], 2 * position + 2, level + 1
            stack[top + 2, 0], stack[top + 2, 1], stack[top + 2, 2] = left[node], 2 * position + 1, level + 1
            top += 2


LANES = 32  # rows stepped side by side: their features (32 x ~1 kB) stay in the core's L1 cache


def _walk_lanes(features, start, words, thresholds, leaf_values, depth, baseline, out, nodes, rows, sums):
    """Rows start..start + LANES (the last row repeated past the end) through every tree, each level
    taken for all of them before the next: their loads overlap, and a fixed count of lanes with no
    other test in the loop lets the compiler keep them in registers."""
    internal = words.shape[1]
    last = features.shape[0] - 1
    for lane in range(LANES):
        rows[lane] = min(start + lane, last)
        sums[lane] = baseline
    for tree in range(words.shape[0]):
        tree_words, tree_thresholds, tree_leaves = words[tree], thresholds[tree], leaf_values[tree]
        for lane in range(LANES):
            nodes[lane] = 0
        for _ in range(depth):
            for lane in range(LANES):
                node = nodes[lane]
                word = tree_words[node]
                x = features[rows[lane], word & FEATURE_BITS]
                goes_left = (x <= tree_thresholds[node]) | (((word & MISSING_LEFT_BIT) != 0) & (x != x))
                nodes[lane] = 2 * node + 2 - goes_left
        for lane in range(LANES):
            sums[lane] += tree_leaves[nodes[lane] - internal]
    for lane in range(min(LANES, last + 1 - start)):
        out[start + lane] = sums[lane]


_walk_lanes_jit = numba.njit(cache=True, nogil=True)(_walk_lanes)


@numba.njit(cache=True, nogil=True, parallel=True)
def _complete_parallel(features, words, thresholds, leaf_values, depth, baseline):
    out = np.empty(features.shape[0])
    for block in numba.prange((features.shape[0] + LANES - 1) // LANES):
        _walk_lanes_jit(features, block * LANES, words, thresholds, leaf_values, depth, baseline, out,
                        np.empty(LANES, dtype=np.int32), np.empty(LANES, dtype=np.int64), np.empty(LANES))
    return out


@numba.njit(cache=True, nogil=True)
def _complete_serial(features, words, thresholds, leaf_values, depth, baseline):
    out = np.empty(features.shape[0])
    nodes, rows, sums = np.empty(LANES, dtype=np.int32), np.empty(LANES, dtype=np.int64), np.empty(LANES)
    for start in range(0, features.shape[0], LANES):
        _walk_lanes_jit(features, start, words, thresholds, leaf_values, depth, baseline, out, nodes, rows, sums)
    return out
