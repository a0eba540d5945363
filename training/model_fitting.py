"""Fit the approval classifier, its calibration and the denial-reason model.

Hard rules come first: claims the exclusion rules decide are not the classifier's job, so they
are dropped before fitting. The classifier is gradient-boosted trees with monotonic constraints
(prior authorization, referral, a letter, documented conservative therapy, in-network and a
covered diagnosis may never lower the approval probability: that is what makes the service's
advice trustworthy), calibrated by isotonic regression (a monotone map, so the constraints
survive calibration).

Payers change their rules, so the most recent claims matter most: the classifier is fitted on the
train AND validation splits (the test split stays untouched), and a random `holdout_fraction` of
them, drawn from every period, is held out for early stopping and for the calibration.
The denial-reason model is a multinomial logistic regression: it scores a million claims in one
matrix product, where a multi-class tree ensemble costs a tree per class per iteration.

Training is a batch job that owns the machine: the classifier's OpenMP pool gets `fit_threads`
(None: every core) whatever OMP_NUM_THREADS says, since that variable pins the service's workers
and test runs to one thread each.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from features.contract import TARGET
from features.pipeline import build_feature_pipeline
from features.transformers import MONOTONIC_INCREASING_FEATURES
from training.profile import build_profile

OTHER_REASON = "other"


@dataclass
class ModelParams:
    max_iter: int = 500
    learning_rate: float = 0.1
    max_leaf_nodes: int = 63
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    n_iter_no_change: int = 15
    holdout_fraction: float = 0.1
    denial_max_rows: int = 100_000
    denial_min_class_count: int = 30
    likely_approved_threshold: float = 0.7
    likely_denied_threshold: float = 0.3
    random_state: int = 0
    fit_threads: int | None = None  # the classifier's OpenMP threads; None: every core


def monotonic_constraints(feature_names) -> np.ndarray:
    """+1 for every feature that may never lower the approval probability, 0 elsewhere."""
    increasing = set(MONOTONIC_INCREASING_FEATURES)
    missing = increasing - set(feature_names)
    if missing:
        raise ValueError(f"the feature pipeline lost monotonic features: {sorted(missing)}")
    return np.array([1 if name in increasing else 0 for name in feature_names], dtype=np.int8)


def fit_coverage_model(train: pd.DataFrame, validation: pd.DataFrame, params: ModelParams | None = None,
                       progress: bool = True):
    """Fit every part of a CoverageModel on clean history frames (with the `approved` target)."""
    from training.coverage_model import CoverageModel

    params = params or ModelParams()
    stages = tqdm(total=5, desc="fit", disable=not progress, unit="stage")
    timings = {}

    def stage(name):
        stages.set_postfix_str(name)
        timings[name] = time.perf_counter()

    def done(name):
        timings[name] = round(time.perf_counter() - timings[name], 2)
        stages.update()

    model = CoverageModel(params=params)
    stage("encode")
    history = pd.concat([train, validation], ignore_index=True)
    kept = history[~model.excluded(history)]
    if kept[TARGET].nunique() < 2:
        raise ValueError("training claims not excluded by rules hold a single outcome: nothing to learn")
    pipeline = build_feature_pipeline()
    features = np.asarray(pipeline.fit_transform(kept), dtype=np.float32)
    feature_names = [str(name) for name in pipeline.get_feature_names_out()]
    model.feature_pipeline, model.feature_names = pipeline, feature_names
    target = kept[TARGET].to_numpy(dtype=bool)
    held_out = np.random.default_rng(params.random_state).random(len(kept)) < params.holdout_fraction
    done("encode")

    stage("classifier")
    classifier = HistGradientBoostingClassifier(
        max_iter=params.max_iter, learning_rate=params.learning_rate, max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf, l2_regularization=params.l2_regularization,
        monotonic_cst=monotonic_constraints(feature_names), early_stopping=True,
        n_iter_no_change=params.n_iter_no_change, random_state=params.random_state)
    with threadpool_limits(limits=params.fit_threads or os.cpu_count() or 1, user_api="openmp"):
        classifier.fit(features[~held_out], target[~held_out], X_val=features[held_out], y_val=target[held_out])
    model.classifier = classifier
    done("classifier")

    stage("calibration")
    raw = classifier.predict_proba(features[held_out])[:, 1]
    model.calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True).fit(
        raw, target[held_out].astype(float))
    done("calibration")

    stage("denial reasons")
    model.denial_model, model.denial_classes = _fit_denial_model(kept, features, target, params)
    done("denial reasons")

    stage("profile")
    model.training_profile = build_profile(train)
    model.metadata.update(
        train_rows=int(len(train)), validation_rows=int(len(validation)),
        classifier_rows=int((~held_out).sum()), calibration_rows=int(held_out.sum()), classifier_iterations=int(classifier.n_iter_),
        stage_seconds=timings, trained_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    done("profile")
    stages.close()
    return model


def _fit_denial_model(kept: pd.DataFrame, features: np.ndarray, target: np.ndarray, params: ModelParams):
    """P(CARC | denied) over the frequent CARCs (rare ones pooled as `other`)."""
    denied = ~target
    reasons = kept["denial_reason"].astype(str).to_numpy()[denied]
    x_denied = features[denied]
    has_reason = reasons != ""
    reasons, x_denied = reasons[has_reason], x_denied[has_reason]
    if len(reasons) == 0:
        return None, [OTHER_REASON]
    counts = pd.Series(reasons).value_counts()
    frequent = set(counts[counts >= params.denial_min_class_count].index)
    labels = np.where(np.isin(reasons, list(frequent)), reasons, OTHER_REASON)
    if len(labels) > params.denial_max_rows:
        rows = np.random.default_rng(params.random_state).choice(len(labels), params.denial_max_rows, replace=False)
        labels, x_denied = labels[rows], x_denied[rows]
    classes = sorted(set(labels))
    if len(classes) < 2:
        return None, classes
    # NaN means "absent" in the features (no earlier treatment, no limit): the median stands in.
    model = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                          LogisticRegression(max_iter=300, C=1.0))
    model.fit(x_denied, labels)
    return model, [str(c) for c in model.classes_]
