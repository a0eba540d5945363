"""Where the regional world's Brier gap comes from: data or recipe (issue 24).

    python -m benchmarks.regional_gap [--rows N] [--world NAME] [--variants NAME ...]

One world (`regional`, or `--world` another the recipe must not lose on: `demo`, `alt`,
`managed_care`; `--rows` claims, split by date as `train` splits), its rules and features
encoded once by the real fitting code (training.model_fitting.fit_coverage_model, without
teachers: that fit only supplies the rules' evidence, the feature pipeline and the denial model);
then each variant of the classifier (the teachers, the student, the calibration) is fitted on the
same encoded claims with the same pieces the recipe uses, put in place of the model's classifier,
and the whole system (rules, floors, calibrated classifier: `CoverageModel.served_probability`) is
scored on the test split against the outcomes and the truth, as benchmarks.model_size does. The
first variant, "recipe before the cell", reproduces `fit_coverage_model`'s figures with
`teacher_plan_treatment=False` (the default until issue 24's flip); "teachers read plan x treatment: student" the
same with it on, and "teachers' date meets only policy columns" with `teacher_date_interactions`.
Each variant names its own settings, whatever scoring.params' defaults say.

Variants that are not one forest (the teachers' average, a calibration per plan type) are served
through the model's `probability_from_features`, which is what every served path calls; they
diagnose, they are not candidates for the served model as it stands.

Each result is appended to var/bench/regional_gap-<rows>.jsonl (another world's:
regional_gap-<world>-<rows>.jsonl) as it is measured, with its CPU seconds (the fit of that
variant's own parts).
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import BENCH_DIR, format_table, log_result, machine_line, quiet_this_process
from benchmarks.model_size import cpu_seconds, load_world
from training.model_fitting import PLAN_TREATMENT

DEFAULT_ROWS = 60_000
VARIANTS = ("recipe before the cell", "teachers' average (no student)", "student without a depth limit",
            "calibration per plan type", "one unconstrained model", "raw_gbm baseline",
            "teachers see every feature: average", "teachers see every feature: student",
            "teachers read plan x treatment: average", "teachers read plan x treatment: student",
            "teachers read every pair of plan, treatment, facility: student",
            "teachers' date meets only policy columns: student",
            "teachers' date meets only policy columns, teachers read plan x treatment: student",
            "teachers read the cell's shrunk paid share: student",
            "teachers read the cells' recent change: student",
            "teachers read the cell's shrunk paid share and the cells' recent change: student",
            "teachers read plan x treatment and the cell's shrunk paid share: student")
WORLD_NAMES = ("regional", "demo", "alt", "managed_care")
# Smaller or more regularized teachers: the regional payer is a logistic model of few, low-order
# effects, which many-leaf trees fit with spurious interactions on 30,000 claims.
TEACHER_CHANGES = {"of 15 leaves": {"max_leaf_nodes": 15}, "of 7 leaves": {"max_leaf_nodes": 7},
                   "of 100 claims a leaf": {"min_samples_leaf": 100}, "with l2 10": {"l2_regularization": 10.0},
                   "at learning rate 0.05": {"learning_rate": 0.05}}
VARIANTS += tuple(f"teachers {name}: student" for name in TEACHER_CHANGES)


class Encoded:
    """The world's training claims as the recipe encodes them, and the served model around them."""

    def __init__(self, split):
        import pandas as pd

        from features.contract import TARGET
        from features.pipeline import one_hot_groups
        from scoring.params import ModelParams
        from training.model_fitting import fit_coverage_model, measure_rules, monotonic_constraints

        self.params = ModelParams()
        self.model = fit_coverage_model(split.train, split.validation, ModelParams(teachers=0), progress=False)
        history = pd.concat([split.train, split.validation], ignore_index=True)
        _, _, excluded = measure_rules(history, self.params)
        kept = history[~excluded]
        self.features = self.model.encode(kept)
        self.target = kept[TARGET].to_numpy(dtype=bool)
        self.held_out = np.random.default_rng(self.params.random_state).random(len(kept)) < self.params.holdout_fraction
        self.constraints = monotonic_constraints(self.model.feature_names)
        self.categories = one_hot_groups(self.model.feature_pipeline)
        self.plan_columns = [at for at, name in enumerate(self.model.feature_names) if "plan_type_" in name]
        self.dates = pd.to_datetime(kept["service_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
        self._history_columns = {}

    def history_columns(self, names: tuple[str, ...]) -> np.ndarray:
        """The training claims' columns read off their own history (benchmarks.cell_shares), one per
        name: "quirk" (the cell's shrunk paid share), "recent" (the cells' recent change)."""
        from benchmarks.cell_shares import quirk_column, recent_change_column
        from training.model_fitting import _position_of_the_one

        def block(source):
            return _position_of_the_one(self.features[:, next(
                positions for name, positions in self.categories.items() if name.endswith(f"__{source}"))])
        counted, seed = ~self.held_out, self.params.random_state + 7
        for name in set(names) - set(self._history_columns):
            treatment, plan = block("treatment"), block("plan_type")
            if name == "quirk":
                column = quirk_column(treatment, plan, block("facility_type"), self.target, counted, seed)
            else:  # the change is a plan's rule on a treatment, met or not by the claim's authorization
                authorized = self.features[:, self.model.feature_names.index("circumstance__prior_authorization")] > 0
                cell = (plan * (treatment.max() + 1) + treatment) * 2 + authorized
                column = recent_change_column(cell, self.dates, self.target, counted, seed)
            self._history_columns[name] = column.astype(np.float32)
        return np.column_stack([self._history_columns[name] for name in names])


# Pairs of one-hot blocks whose cells teachers may read as one more category column each: the
# recipe's option (training.model_fitting.PLAN_TREATMENT), and with it the other two pairs of a
# quirk cell's treatment, plan and facility.
EVERY_PAIR = (*PLAN_TREATMENT, ("treatment", "facility_type"), ("plan_type", "facility_type"))


def category_features(encoded: Encoded, features: np.ndarray, cross=(), history=()):
    """The teachers' input: the features and each one-hot block as a category column (the recipe's),
    one more column for each pair of blocks in `cross`: the pair's cell, and the `history` columns
    (Encoded.history_columns; defined for the training claims only)."""
    from training.model_fitting import _position_of_the_one, _with_category_codes

    both, mask = _with_category_codes(features, encoded.categories)
    if history:
        assert features is encoded.features, "the history columns exist for the training claims only"
        both = np.hstack([both, encoded.history_columns(history)])
        mask = np.r_[mask, np.zeros(len(history), bool)]
    if not cross:
        return both, mask

    def block(source):
        return next(positions for name, positions in encoded.categories.items() if name.endswith(f"__{source}"))
    cells = []
    for first, second in cross:
        width = len(block(second)) + 1
        cells.append(_position_of_the_one(features[:, block(first)]) * width +
                     _position_of_the_one(features[:, block(second)]))
    return np.hstack([both, np.column_stack(cells).astype(np.float32)]), np.r_[mask, np.ones(len(cells), bool)]


def fit_teachers(encoded: Encoded, max_features: float, cross, dated: bool = False, history=(), **changes) -> list:
    """The recipe's teachers (folds, seeds, settings, with `changes` to their trees; `dated`: the
    recipe's `teacher_date_interactions`), the fitted models kept."""
    from joblib import Parallel, delayed

    from training.date_interactions import code_column_inputs, date_interaction_groups
    from training.model_fitting import _boosted_trees

    if dated:
        changes["interaction_cst"] = date_interaction_groups(
            encoded.model.feature_names, code_column_inputs(encoded.categories, cross))

    params = encoded.params
    training = np.flatnonzero(~encoded.held_out)
    fold = np.random.default_rng(params.random_state + 1).integers(0, params.teachers, len(training))
    features, categorical = category_features(encoded, encoded.features, cross, history)

    def one(teacher):
        rows, stops = training[fold != teacher], training[fold == teacher]
        settings = {"max_leaf_nodes": params.teacher_max_leaf_nodes, **changes}
        model = _boosted_trees(params, random_state=params.random_state + teacher, max_features=max_features,
                               categorical_features=categorical, **settings)
        return model.fit(features[rows], encoded.target[rows], X_val=features[stops], y_val=encoded.target[stops])
    return Parallel(n_jobs=2, backend="loky", inner_max_num_threads=1)(
        delayed(one)(teacher) for teacher in range(params.teachers))


def teachers_probability(encoded: Encoded, teachers: list, features: np.ndarray, cross, history=()) -> np.ndarray:
    both, _ = category_features(encoded, features, cross, history)
    log_odds = sum(teacher.decision_function(both) for teacher in teachers) / len(teachers)
    return 1.0 / (1.0 + np.exp(-log_odds))


def fit_student(encoded: Encoded, taught: np.ndarray, max_depth):
    from training.model_fitting import _boosted_trees
    from training.soft_labels import plain_classifier, probability_classifier

    params = encoded.params
    student = _boosted_trees(params, encoded.constraints, learning_rate=params.student_learning_rate,
                             max_leaf_nodes=params.student_max_leaf_nodes, max_depth=max_depth)
    held_out = encoded.held_out
    return plain_classifier(probability_classifier(student).fit(
        encoded.features[~held_out], taught[~held_out], X_val=encoded.features[held_out], y_val=taught[held_out]))


def calibrated(encoded: Encoded, raw_probability):
    """(features -> raw probability) calibrated as the recipe calibrates a taught model: a logistic
    map fitted on the held-out claims."""
    from training.calibration import logistic_calibration

    held = encoded.features[encoded.held_out]
    calibrator = logistic_calibration(raw_probability(held), encoded.target[encoded.held_out])
    return lambda features: calibrator.predict(raw_probability(features))


def per_plan_calibrated(encoded: Encoded, raw_probability):
    """As `calibrated`, with one logistic map per plan type (the held-out claims of each)."""
    from training.calibration import logistic_calibration

    def plan_of(features):
        return features[:, encoded.plan_columns].argmax(axis=1)
    held = encoded.features[encoded.held_out]
    plans, raw, outcome = plan_of(held), raw_probability(held), encoded.target[encoded.held_out]
    maps = {plan: logistic_calibration(raw[plans == plan], outcome[plans == plan]) for plan in np.unique(plans)}

    def probability(features):
        plans, raw = plan_of(features), raw_probability(features)
        out = raw.copy()
        for plan, calibrator in maps.items():
            out[plans == plan] = calibrator.predict(raw[plans == plan])
        return out
    return probability


def served_quality(encoded: Encoded, probability_from_features, split, truth) -> dict[str, float]:
    """The whole system's figures on the test split with this classifier in place."""
    model = encoded.model
    model.probability_from_features = lambda features, threads=None: probability_from_features(features)
    try:
        return quality(model.served_probability(split.test), split, truth)
    finally:
        del model.probability_from_features


def quality(probability, split, truth) -> dict[str, float]:
    from features.contract import TARGET
    from scoring.metrics import binary_metrics
    from training.evaluation import expected_brier_ratio

    approved = split.test[TARGET].to_numpy(dtype=bool)
    found, reference = binary_metrics(approved, probability), binary_metrics(approved, truth)
    return {"auc_ratio": found["auc"] / reference["auc"], "brier_ratio": found["brier"] / reference["brier"],
            "expected_ratio": expected_brier_ratio(probability, truth, reference["brier"]), "ece": found["ece"]}


def measure(names: list[str], rows: int, echo=print, world: str = "regional") -> list[dict]:
    from benchmarks.common import demo_history
    from benchmarks.train import world_histories
    from training.evaluation import EvaluationParams, _raw_frame, fit_raw_gbm_baseline
    from training.model_fitting import _boosted_trees, _with_category_codes

    [(_, path)] = [("demo", demo_history(rows, echo=echo))] if world == "demo" else world_histories(rows, [world])
    split, truth = load_world(path)
    log = BENCH_DIR / (f"regional_gap-{rows}.jsonl" if world == "regional" else f"regional_gap-{world}-{rows}.jsonl")
    cpu = cpu_seconds()
    encoded = Encoded(split)
    echo(f"  encoded {len(encoded.features):,} training claims ({cpu_seconds() - cpu:.0f} CPU s)")
    teachers, results = {}, []

    def taught(max_features, cross, dated=False, history=(), **changes):
        key = (max_features, cross, dated, history, *sorted(changes.items()))
        if key not in teachers:
            teachers[key] = fit_teachers(encoded, max_features, cross, dated, history, **changes)
        return teachers[key]

    def student_of(max_features, cross, max_depth=encoded.params.student_max_depth, dated=False, history=(),
                   **changes):
        found = taught(max_features, cross, dated, history, **changes)
        soft = teachers_probability(encoded, found, encoded.features, cross, history)
        student = fit_student(encoded, soft, max_depth)
        return lambda features: student.predict_proba(features)[:, 1]

    def average_of(max_features, cross):
        found = taught(max_features, cross)
        return lambda features: teachers_probability(encoded, found, features, cross)

    def single():
        features, categorical = _with_category_codes(encoded.features, encoded.categories)
        fits = ~encoded.held_out
        model = _boosted_trees(encoded.params, max_leaf_nodes=encoded.params.teacher_max_leaf_nodes,
                               categorical_features=categorical).fit(
            features[fits], encoded.target[fits], X_val=features[~fits], y_val=encoded.target[~fits])
        return lambda rows: model.predict_proba(_with_category_codes(rows, encoded.categories)[0])[:, 1]

    half = encoded.params.teacher_max_features
    recipes = {
        "recipe before the cell": lambda: calibrated(encoded, student_of(half, ())),
        "teachers' average (no student)": lambda: calibrated(encoded, average_of(half, ())),
        "student without a depth limit": lambda: calibrated(encoded, student_of(half, (), None)),
        "calibration per plan type": lambda: per_plan_calibrated(encoded, student_of(half, ())),
        "one unconstrained model": lambda: calibrated(encoded, single()),
        "teachers see every feature: average": lambda: calibrated(encoded, average_of(1.0, ())),
        "teachers see every feature: student": lambda: calibrated(encoded, student_of(1.0, ())),
        "teachers read plan x treatment: average": lambda: calibrated(encoded, average_of(half, PLAN_TREATMENT)),
        "teachers read plan x treatment: student": lambda: calibrated(encoded, student_of(half, PLAN_TREATMENT)),
        "teachers read every pair of plan, treatment, facility: student":
            lambda: calibrated(encoded, student_of(half, EVERY_PAIR)),
        "teachers' date meets only policy columns: student": lambda: calibrated(encoded, student_of(half, (), dated=True)),
        "teachers' date meets only policy columns, teachers read plan x treatment: student":
            lambda: calibrated(encoded, student_of(half, PLAN_TREATMENT, dated=True)),
        "teachers read the cell's shrunk paid share: student":
            lambda: calibrated(encoded, student_of(half, (), history=("quirk",))),
        "teachers read the cells' recent change: student":
            lambda: calibrated(encoded, student_of(half, (), history=("recent",))),
        "teachers read the cell's shrunk paid share and the cells' recent change: student":
            lambda: calibrated(encoded, student_of(half, (), history=("quirk", "recent"))),
        "teachers read plan x treatment and the cell's shrunk paid share: student":
            lambda: calibrated(encoded, student_of(half, PLAN_TREATMENT, history=("quirk",))),
        **{f"teachers {name}: student": lambda changes=changes: calibrated(encoded, student_of(half, (), **changes))
           for name, changes in TEACHER_CHANGES.items()},
    }
    for name in names:
        cpu = cpu_seconds()
        if name == "raw_gbm baseline":  # the evaluation's own baseline: all test claims, no rules
            baseline, codes = fit_raw_gbm_baseline(split.train, EvaluationParams())
            figures = quality(baseline.predict_proba(_raw_frame(split.test, codes))[:, 1], split, truth)
        else:
            figures = served_quality(encoded, recipes[name](), split, truth)
        result = {"variant": name, "world": world, "rows": rows, "cpu_seconds": cpu_seconds() - cpu, **figures}
        results.append(result)
        log_result(log, result)
        echo(f"  {name}: AUC/truth {result['auc_ratio']:.4f}, Brier/truth {result['brier_ratio']:.3f} (expected "
             f"{result['expected_ratio']:.3f}), ECE {result['ece']:.4f}, {result['cpu_seconds']:.0f} CPU s")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="claims of the regional world")
    parser.add_argument("--world", choices=WORLD_NAMES, default="regional", help="whose claims (default regional)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), metavar="NAME")
    options = parser.parse_args(argv)
    quiet_this_process()
    print(machine_line(f"regional gap: variants on {options.rows:,} claims of {options.world}, fitted in process"))
    results = measure(options.variants, options.rows, world=options.world)
    print()
    print(format_table(("variant", "AUC/truth", "Brier/truth", "expected Brier/truth", "ECE", "CPU s"),
                       [(r["variant"], f"{r['auc_ratio']:.4f}", f"{r['brier_ratio']:.3f}", f"{r['expected_ratio']:.3f}",
                         f"{r['ece']:.4f}", f"{r['cpu_seconds']:.0f}") for r in results]))
    print("\nCPU s: the variant's own fits (teachers shared between variants are counted once, where first fitted).")


if __name__ == "__main__":
    main()
