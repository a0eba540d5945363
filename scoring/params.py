"""The served model's parameters: saved with it (metadata.json), read by the fitting code.

They live with the model, not the trainer, so that loading a model never imports the fitting code.
"""
from __future__ import annotations

from dataclasses import dataclass

OTHER_REASON = "other"  # the denial-reason class for CARCs too rare to learn on their own


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
    teachers: int = 4  # unconstrained models the monotone classifier learns from (docs/model.md); 0 or 1: the labels
    teacher_max_features: float = 0.5  # share of features each teacher split may choose from
    distil_max_rows: int = 200_000  # more claims to learn from than this: learn from the labels
    student_learning_rate: float = 0.3  # soft labels are smooth: bigger steps, as few trees as one model
    student_max_leaf_nodes: int = 127
    student_max_depth: int | None = 8  # chosen in docs/model.md (None: as deep as the leaves allow)
    student_max_rows: int | None = None  # the student learns from a random sample of this many claims; None: all
    teacher_processes: int | None = None  # teachers fitted side by side; None: one per core of fit_threads
    teacher_max_leaf_nodes: int = 31
    teacher_categories: bool = True  # teachers also read each one-hot block as one categorical column
    teacher_plan_treatment: bool = True  # and the plan type x treatment cell as one more (docs/model.md, issue 24)
    # the teachers' service date combined only with the plan, treatment, setting and paperwork a
    # policy is written on (training/date_interactions.py; docs/model.md, issue 24)
    teacher_date_interactions: bool = False
    # How the training history decides each exclusion rule (scoring.rule_evidence)
    rule_tolerance: float = 0.05  # a paid share the payer's errors could explain
    rule_min_fired: int = 30  # fewer fired claims cannot tell: the level above decides
    rule_prior_share: float = 0.01  # an excluded claim's probability when the rule has no history
    rule_prior_strength: float = 20.0  # pseudo-claims pulling a cell's paid share toward its parent's
