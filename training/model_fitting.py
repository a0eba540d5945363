"""Fit the approval classifier, its calibration and the denial-reason model.

Rules come first: every exclusion rule is measured on the training claims it fires on
(scoring.rule_evidence). Where the payer's history confirms a rule, or cannot tell, the rule
stays hard: those claims are not the classifier's job and are dropped before fitting. Where the
history contradicts it (for a treatment, or a treatment and diagnosis category), the rule is an
input (`rule__<id>`, constrained never to raise the probability) and the classifier learns those
claims. The classifier is gradient-boosted trees with monotonic constraints
(prior authorization, referral, a letter, documented conservative therapy, in-network and a
covered diagnosis may never lower the approval probability: that is what makes the service's
advice trustworthy), then calibrated by a monotone map (isotonic regression, or the logistic
map below), so the constraints survive calibration.

On a small history the monotone trees are taught rather than fitted: `teachers` unconstrained
boosted models, each fitted on all but one fold of the training claims, give every claim a
probability (their mean log-odds), and the monotone classifier is fitted to those soft labels
(cross-entropy against the teachers, each claim once with its probability as its label:
training.soft_labels). Averaging the teachers removes much of the fit-to-fit variance of a single
model, soft labels carry far less noise than 0/1 outcomes, and the served model is still one
monotone forest, so scoring costs what it did. Each teacher sees half the features at each
split (`teacher_max_features`): less alike, their mean is better. Teachers also read each
one-hot block (treatment, procedure code, plan type, benefit scope, facility, place of service)
as one categorical column (`teacher_categories`), so one split can group the plans or treatments
a payer treats alike, and the plan type x treatment cell as one more (`teacher_plan_treatment`),
so one split can group the cells where a plan pays a treatment more or less than its level; they
grow smaller trees (`teacher_max_leaf_nodes`); the student, which
the numba scorer walks, keeps plain numeric splits. A taught classifier is close to calibrated
already, so its calibration is a two-parameter logistic map of its log-odds fitted on the
held-out claims (stored as the same isotonic table), where an isotonic fit on those few thousand
claims added step noise (what helped and what did not: docs/model.md, "Model quality and its method"). Past
`distil_max_rows` claims a single model's variance is small and the teachers'
time is not, so the classifier learns from the labels directly.

Payers change their rules, so the most recent claims matter most: the classifier is fitted on the
train AND validation splits (the test split stays untouched), and a random `holdout_fraction` of
them, drawn from every period, is held out for early stopping and for the calibration.
The denial-reason model is a multinomial logistic regression: it scores a million claims in one
matrix product, where a multi-class tree ensemble costs a tree per class per iteration.

Training is a batch job that owns the machine: the classifier's OpenMP pool gets `fit_threads`
(None: every core) whatever OMP_NUM_THREADS says, since that variable pins the service's workers
and test runs to one thread each. The teachers are independent, so on a large history they are
fitted side by side, one process per core (`teacher_processes`), each on one OpenMP thread: one
thread cannot spin waiting for a sibling on a core another process holds, which is how an
OpenMP pool collapses on a busy machine (the README's "Performance" has the 150 s teachers). The
student, one fit, keeps the pool; its progress bar moves at each tree (`_fit_with_progress`).
"""
from __future__ import annotations

import io
import os
import re
import time
from concurrent.futures import Future
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
from joblib import delayed
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from features.claim_facts import columns_facts, frame_to_columns
from features.contract import TARGET
from features.pipeline import (MONOTONIC_DECREASING_FEATURES, MONOTONIC_INCREASING_FEATURES, build_feature_pipeline,
                               one_hot_groups)
from features.rules import load_rules
from scoring.coverage_model import RULE_INPUT_PREFIX, CoverageModel
from scoring.judgement import evidence_params, rule_input_columns
from scoring.rule_evidence import RuleEvidence, primary_categories
from scoring.params import OTHER_REASON, ModelParams
from scoring.profile import build_profile
from training.calibration import increasing_map, logistic_calibration
from training.date_interactions import code_column_inputs, date_interaction_groups
from training.soft_labels import plain_classifier, probability_classifier
from training.teacher_pool import start_teacher_processes, teacher_pool, teacher_processes

# The one-hot blocks whose cells the teachers read as one category column (`teacher_plan_treatment`):
# a payer's plans each pay a treatment a little more or less than its overall level, and one
# split on the cell groups them where one-hot trees need a split per plan and per treatment.
PLAN_TREATMENT = (("plan_type", "treatment"),)

def monotonic_constraints(feature_names) -> np.ndarray:
    """+1 for every feature that may never lower the approval probability, -1 for one that may
    never raise it (an exhausted benefit; a learned rule's firing), 0 elsewhere."""
    increasing, decreasing = set(MONOTONIC_INCREASING_FEATURES), set(MONOTONIC_DECREASING_FEATURES)
    missing = (increasing | decreasing) - set(feature_names)
    if missing:
        raise ValueError(f"the feature pipeline lost monotonic features: {sorted(missing)}")
    return np.array([1 if name in increasing else -1 if name in decreasing or name.startswith(RULE_INPUT_PREFIX)
                     else 0 for name in feature_names], dtype=np.int8)


def measure_rules(history: pd.DataFrame, params: ModelParams) -> tuple[RuleEvidence, np.ndarray, np.ndarray]:
    """(the rules' evidence in this history, every fired rule, the claims a hard rule excludes)."""
    columns = frame_to_columns(history)
    fired = load_rules().fire(columns, columns_facts(columns))
    categories = primary_categories(columns["diagnosis_codes"])
    evidence = RuleEvidence.measure(load_rules(), fired, columns["treatment"], categories,
                                    history[TARGET].to_numpy(dtype=bool), evidence_params(params))
    hard, _ = evidence.judge(fired, columns["treatment"], categories)
    return evidence, fired, hard.any(axis=1)


def fit_coverage_model(train: pd.DataFrame, validation: pd.DataFrame, params: ModelParams | None = None,
                       progress: bool = True, workers: Future | None = None):
    """Fit every part of a CoverageModel on clean history frames (with the `approved` target).

    `workers`: the teachers' processes when the caller started them earlier
    (training.teacher_pool.start_teacher_processes); else they start here when the fit needs them."""
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
    model.rule_evidence, fired, excluded = measure_rules(history, params)
    kept, fired = history[~excluded], fired[~excluded]
    held_out = np.random.default_rng(params.random_state).random(len(kept)) < params.holdout_fraction
    # The teachers' workers start now, on the core the encoding and the denial model leave idle
    # (training.teacher_pool); drawing held_out here, not after the encoding, changes no number.
    distilled = params.teachers > 1 and int((~held_out).sum()) <= params.distil_max_rows
    if distilled and workers is None:
        workers = start_teacher_processes(params, int((~held_out).sum()))
    # The caller still holds train and validation: this copy of both only counted the rules, and
    # on a million claims it is a few hundred MB the fit's peak need not carry.
    del history
    if kept[TARGET].nunique() < 2:
        raise ValueError("training claims not excluded by rules hold a single outcome: nothing to learn")
    pipeline = build_feature_pipeline()
    features = np.asarray(pipeline.fit_transform(kept), dtype=np.float32)
    feature_names = [str(name) for name in pipeline.get_feature_names_out()]
    learned = list(model.rule_evidence.learned_rule_ids)
    if learned:
        features = np.hstack([features, rule_input_columns(fired, learned)])
        feature_names += [f"{RULE_INPUT_PREFIX}{rule_id}" for rule_id in learned]
    model.feature_pipeline, model.feature_names = pipeline, feature_names
    target = kept[TARGET].to_numpy(dtype=bool)
    done("encode")

    # The linear models (the denial model, the calibration) multiply matrices of thousands of rows
    # by a few hundred columns: OpenBLAS's threads gain nothing there, and they spin while they
    # wait (OMP_WAIT_POLICY does not reach them), so on a busy core the denial model cost many
    # times the CPU of one thread. The denial model is fitted first, while every claim's features
    # are at hand: the classifier's fit then needs only its own rows and the held-out ones.
    stage("denial reasons")
    with threadpool_limits(limits=1, user_api="blas"):
        model.denial_model, model.denial_classes = _fit_denial_model(kept, features, target, params)
    done("denial reasons")

    stage("classifier")
    constraints = monotonic_constraints(feature_names)
    held_out_features = features[held_out]
    with threadpool_limits(limits=params.fit_threads or os.cpu_count() or 1, user_api="openmp"):
        if distilled:
            categories = one_hot_groups(pipeline) if params.teacher_categories else {}
            classifier = _fit_taught_classifier(features, target, held_out, constraints, categories, params,
                                                progress, feature_names, workers)
        else:
            fitted_rows = _float64_rows(features, ~held_out)
            # Past distil_max_rows: every claim's float32 features would sit beside the fit's
            # float64 copy of its rows at training's peak of memory (docs/model.md, "Memory");
            # what follows needs the held-out rows only.
            del features
            classifier = _fit_with_progress(_boosted_trees(params, constraints), "classifier", progress,
                                            fitted_rows, target[~held_out],
                                            X_val=held_out_features, y_val=target[held_out])
            del fitted_rows
    model.classifier = classifier
    done("classifier")

    stage("calibration")
    with threadpool_limits(limits=1, user_api="blas"):
        raw = classifier.predict_proba(held_out_features)[:, 1]
        calibrator = logistic_calibration(raw, target[held_out]) if distilled else None
        model.calibrator = calibrator if calibrator is not None else increasing_map(raw, target[held_out].astype(float))
    done("calibration")

    stage("profile")
    model.training_profile = build_profile(train)
    model.metadata.update(
        train_rows=int(len(train)), validation_rows=int(len(validation)),
        classifier_rows=int((~held_out).sum()), calibration_rows=int(held_out.sum()), classifier_iterations=int(classifier.n_iter_),
        classifier_teachers=params.teachers if distilled else 0,
        stage_seconds=timings, trained_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    done("profile")
    stages.close()
    return model


def _boosted_trees(params: ModelParams, constraints=None, **changes) -> HistGradientBoostingClassifier:
    settings = dict(max_iter=params.max_iter, learning_rate=params.learning_rate, max_leaf_nodes=params.max_leaf_nodes,
                    min_samples_leaf=params.min_samples_leaf, l2_regularization=params.l2_regularization,
                    monotonic_cst=constraints, early_stopping=True, n_iter_no_change=params.n_iter_no_change,
                    random_state=params.random_state)
    return HistGradientBoostingClassifier(**{**settings, **changes})


def _fit_taught_classifier(features: np.ndarray, target: np.ndarray, held_out: np.ndarray, constraints: np.ndarray,
                           categories: dict[str, np.ndarray], params: ModelParams,
                           progress: bool = False, feature_names=None,
                           workers: Future | None = None) -> HistGradientBoostingClassifier:
    """The monotone classifier fitted to the teachers' probabilities (see the module docstring).

    The held-out claims stay out of every fit: the teachers label them, the student stops early
    on them, and the calibration then sees outcomes no model was fitted to.
    """
    training = np.flatnonzero(~held_out)
    fold = np.random.default_rng(params.random_state + 1).integers(0, params.teachers, len(training))
    crossed = PLAN_TREATMENT if params.teacher_plan_treatment else ()
    teacher_features, categorical = _with_category_codes(features, categories, crossed)
    interactions = date_interaction_groups(feature_names, code_column_inputs(categories, crossed)) \
        if params.teacher_date_interactions and feature_names is not None else None
    fits = [(training[fold != teacher], training[fold == teacher]) for teacher in range(params.teachers)]
    processes = teacher_processes(params, len(training))
    bar = tqdm(total=params.teachers, desc="teachers", unit="teacher", leave=False, disable=not progress)
    if workers is not None:
        workers.result()  # one caller of the pool at a time
    if processes > 1:
        jobs = teacher_pool(processes)(
            delayed(_teacher_log_odds)(teacher_features, target, rows, stops, categorical, params, teacher,
                                       interactions)
            for teacher, (rows, stops) in enumerate(fits))
    else:
        jobs = (_teacher_log_odds(teacher_features, target, rows, stops, categorical, params, teacher, interactions)
                for teacher, (rows, stops) in enumerate(fits))
    log_odds = np.zeros(len(features))
    for teacher_log_odds in jobs:  # in teacher order, so the sum is the same however they ran
        log_odds += teacher_log_odds / params.teachers
        bar.update()
    bar.close()
    taught = 1.0 / (1.0 + np.exp(-log_odds))
    student = _boosted_trees(params, constraints, learning_rate=params.student_learning_rate,
                             max_leaf_nodes=params.student_max_leaf_nodes, max_depth=params.student_max_depth)
    learns = ~held_out
    if params.student_max_rows is not None and int(learns.sum()) > params.student_max_rows:
        sample = np.random.default_rng(params.random_state + 2).choice(
            training, params.student_max_rows, replace=False)
        learns = np.zeros(len(features), bool)
        learns[sample] = True
    student = _fit_with_progress(probability_classifier(student), "student", progress,
                                 _float64_rows(features, learns), taught[learns],
                                 X_val=features[held_out], y_val=taught[held_out])
    return plain_classifier(student)


def _teacher_log_odds(features: np.ndarray, target: np.ndarray, fits: np.ndarray, stops: np.ndarray,
                      categorical: np.ndarray | None, params: ModelParams, teacher: int,
                      interactions: list[list[int]] | None = None) -> np.ndarray:
    """One teacher, fitted on `fits` and stopped early on `stops`: its log-odds for every claim
    (`interactions`: the columns a branch may combine, training.date_interactions)."""
    model = _boosted_trees(params, random_state=params.random_state + teacher,
                           max_features=params.teacher_max_features, max_leaf_nodes=params.teacher_max_leaf_nodes,
                           categorical_features=categorical, interaction_cst=interactions)
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(features[fits], target[fits], X_val=features[stops], y_val=target[stops])
        return model.decision_function(features)


def _fit_with_progress(model: HistGradientBoostingClassifier, name: str, progress: bool, x, y,
                       **fit_options) -> HistGradientBoostingClassifier:
    """`model.fit(x, y, ...)` in one call, with a bar of trees that moves at each tree.

    The bar reads the `[tree/max_iter]` line scikit-learn prints before each tree at verbose=2.
    Fitting in chunks with warm start grew the same trees, but every call bins the data again
    (the bins' quantiles on up to 200,000 rows of every feature) and re-predicts every tree so
    far, which cost the student far more CPU than one call (docs/model.md, "Training").
    """
    if not progress:
        return model.fit(x, y, **fit_options)
    bar = tqdm(total=model.max_iter, desc=name, unit="tree", leave=False)
    with redirect_stdout(_TreeCounter(bar)):
        model.set_params(verbose=2).fit(x, y, **fit_options)
    bar.close()
    return model.set_params(verbose=0)


class _TreeCounter(io.TextIOBase):
    """A fit's verbose output: each `[tree/max_iter]` moves the bar to that tree; the rest is dropped."""

    TREE = re.compile(r"\[(\d+)/\d+\]")

    def __init__(self, bar: tqdm):
        self.bar = bar

    def write(self, text: str) -> int:
        for match in self.TREE.finditer(text):
            self.bar.update(int(match[1]) - self.bar.n)
        return len(text)


def _with_category_codes(features: np.ndarray, categories: dict[str, np.ndarray],
                         crossed: tuple[tuple[str, str], ...] = ()) -> tuple[np.ndarray, np.ndarray | None]:
    """The features, then each one-hot block as one category column (the position of its 1, or the
    block's width when none is 1), then one column per pair of blocks in `crossed` (named by the
    end of their `categories` key: the pair's cell), and the mask of those columns for
    `categorical_features`.

    One categorical split sends any set of plan types or treatments one way (PPO and Medicare
    Advantage, say, where both tightened prior authorization), where one-hot trees need a split
    per value and fragment the few claims such a rule touches. Blocks wider than the 254
    categories a split can take stay one-hot only.
    """
    blocks = [positions for positions in categories.values() if 0 < len(positions) < 254]
    if not blocks:
        return features, None
    codes = [_position_of_the_one(features[:, positions]) for positions in blocks]
    by_source = {name.rsplit("__", 1)[-1]: positions for name, positions in categories.items()}
    for first, second in crossed:
        if first in by_source and second in by_source and \
                (len(by_source[first]) + 1) * (len(by_source[second]) + 1) <= 254:
            codes.append(_position_of_the_one(features[:, by_source[first]]) * (len(by_source[second]) + 1)
                         + _position_of_the_one(features[:, by_source[second]]))
    mask = np.r_[np.zeros(features.shape[1], bool), np.ones(len(codes), bool)]
    return np.hstack([features, np.column_stack(codes).astype(np.float32)]), mask


def _position_of_the_one(block: np.ndarray) -> np.ndarray:
    """Per row of a one-hot block: the column holding its 1, or the block's width when none does."""
    return np.where(block.max(axis=1) > 0, block.argmax(axis=1), block.shape[1])


def _float64_rows(features: np.ndarray, rows: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """`features[rows]` as the float64 matrix scikit-learn's boosted trees convert every input to,
    filled a chunk at a time: the same numbers (float32 to float64 is exact), without the float32
    copy of the selected rows that the conversion would otherwise make beside its own (docs/model.md,
    "Memory"). `rows`: a boolean mask or row indices."""
    rows = np.flatnonzero(rows) if rows.dtype == bool else rows
    matrix = np.empty((len(rows), features.shape[1]), dtype=np.float64)
    for start in range(0, len(rows), chunk):
        matrix[start:start + chunk] = features[rows[start:start + chunk]]
    return matrix


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
