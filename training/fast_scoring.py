"""Small-batch scoring without sklearn's per-call overhead (the service's hot path).

sklearn's HistGradientBoosting `predict_proba` pays input validation plus one Cython call per
tree, about 4 us each: for one claim and its what-if variants that is most of the budget. Here
every tree's nodes are packed into flat arrays and all trees walk one level per numpy step.
The logistic denial model and the isotonic calibration become a matrix product and `np.interp`.
Parity with sklearn is tested (tests/training/test_fast_scoring.py); batches of more than
SMALL_BATCH rows keep sklearn's multi-row Cython path, which wins there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMALL_BATCH = 256


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
        own = np.arange(len(nodes))
        left = np.where(leaf, own, nodes["left"].astype(np.int64) + shift)
        right = np.where(leaf, own, nodes["right"].astype(np.int64) + shift)
        return cls(feature=nodes["feature_idx"].astype(np.int64), threshold=nodes["num_threshold"].astype(np.float64),
                   missing_left=nodes["missing_go_to_left"].astype(bool), left=left, right=right, is_leaf=leaf,
                   value=nodes["value"].astype(np.float64), roots=offsets.astype(np.int64),
                   depth=int(nodes["depth"].max()), baseline=float(np.ravel(classifier._baseline_prediction)[0]))

    def raw(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        rows = np.arange(len(features))[:, None]
        node = np.broadcast_to(self.roots, (len(features), len(self.roots))).copy()
        for _ in range(self.depth):
            value = features[rows, self.feature[node]]
            go_left = np.where(np.isnan(value), self.missing_left[node], value <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        return self.value[node].sum(axis=1) + self.baseline

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw(features)))


@dataclass(frozen=True)
class LinearSoftmax:
    """impute (median) -> standardise -> multinomial logistic regression, as plain arrays."""

    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def from_pipeline(cls, pipeline) -> "LinearSoftmax":
        imputer, scaler, logistic = (step for _, step in pipeline.steps)
        return cls(fill=imputer.statistics_.astype(np.float64), mean=scaler.mean_, scale=scaler.scale_,
                   coef=logistic.coef_, intercept=logistic.intercept_)

    def probability(self, features: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(features), self.fill, features)
        logits = ((filled - self.mean) / self.scale) @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # two classes: sklearn keeps one column of coefficients
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def isotonic_map(calibrator, raw: np.ndarray) -> np.ndarray:
    """IsotonicRegression.predict (out_of_bounds='clip') as one np.interp."""
    return np.interp(raw, calibrator.X_thresholds_, calibrator.y_thresholds_)
