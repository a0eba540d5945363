"""Boosted trees fitted to probabilities instead of 0/1 outcomes: the student's fit to the
teachers' soft labels (training.model_fitting).

Cross-entropy against a probability p is what the student learns. scikit-learn's classifier only
takes class labels, so each claim used to go in twice, approved with weight p and denied with
weight 1 - p. Per claim that pair adds up to the gradient p_hat - p and the hessian
p_hat (1 - p_hat), which is what one row with the label p gives: the same splits from half the
rows, and the fit's histograms cost by the row. What the classifier does
with a label past encoding it is the binomial loss, which takes any label in [0, 1]; so the fit
reads the label as it is, and hands back the plain classifier the service scores and skops
trusts, with nothing of its own in it.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import LabelEncoder


class _ProbabilityLabels(HistGradientBoostingClassifier):
    """A HistGradientBoostingClassifier whose fit reads y (and y_val) as P(approved), not a class.

    It overrides the two private hooks where the classifier encodes its labels (scikit-learn
    1.9; tests/training/test_soft_labels.py fails if they move)."""

    def _encode_y(self, y):
        # What the label encoder would leave for boolean outcomes: the classes, one tree an iteration
        self._label_encoder = LabelEncoder().fit(np.array([False, True]))
        self.classes_ = self._label_encoder.classes_
        self.n_trees_per_iteration_ = 1
        return self._encode_y_val(y)

    def _encode_y_val(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not ((y >= 0.0) & (y <= 1.0)).all():
            raise ValueError("soft labels are probabilities: every label must lie in [0, 1]")
        return y


def probability_classifier(model: HistGradientBoostingClassifier) -> HistGradientBoostingClassifier:
    """`model`'s settings, on a classifier whose fit takes the approval probabilities for y (and
    y_val: its early stopping then watches the cross-entropy against them). Hand the fitted one
    to `plain_classifier`.

    The leaves keep the claims they held when each claim was two rows: `min_samples_leaf` counts
    rows, and 2k rows >= m when k claims >= m / 2, rounded up."""
    settings = model.get_params()
    settings["min_samples_leaf"] = (settings["min_samples_leaf"] + 1) // 2
    return _ProbabilityLabels(**settings)


def plain_classifier(fitted: HistGradientBoostingClassifier) -> HistGradientBoostingClassifier:
    """The fitted model as the plain classifier the service scores and skops trusts."""
    # The subclass only read the labels; past the fit every attribute is the classifier's own.
    fitted.__class__ = HistGradientBoostingClassifier
    return fitted
