"""The student's fit to probabilities: each claim once with its soft label is the fit of each claim
twice (approved with weight p, denied with weight 1 - p), on half the rows."""
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from training.soft_labels import plain_classifier, probability_classifier


@pytest.fixture(scope="module")
def soft_labelled():
    """Claims with continuous features (no ties between candidate splits) and a probability each."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6000, 5))
    p = 1.0 / (1.0 + np.exp(-(1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3])))
    return x[:5000], p[:5000], x[5000:], p[5000:]


def _trees(**changes):
    settings = dict(max_iter=30, learning_rate=0.3, max_leaf_nodes=15, min_samples_leaf=21, early_stopping=True,
                    n_iter_no_change=5, random_state=0)
    return HistGradientBoostingClassifier(**{**settings, **changes})


def _each_claim_twice(x, p):
    return np.r_[x, x], np.r_[np.ones(len(x), bool), np.zeros(len(x), bool)], np.r_[p, 1.0 - p]


def test_one_row_with_its_probability_grows_the_trees_of_two_weighted_rows(soft_labelled):
    x, p, x_val, p_val = soft_labelled
    twice, outcome, weight = _each_claim_twice(x, p)
    twice_val, outcome_val, weight_val = _each_claim_twice(x_val, p_val)
    doubled = _trees().fit(twice, outcome, sample_weight=weight, X_val=twice_val, y_val=outcome_val,
                           sample_weight_val=weight_val)
    once = plain_classifier(probability_classifier(_trees()).fit(x, p, X_val=x_val, y_val=p_val))

    assert once.n_iter_ == doubled.n_iter_  # early stopping saw the same validation loss
    for mine, theirs in zip(once._predictors, doubled._predictors):
        mine, theirs = mine[0].nodes, theirs[0].nodes
        assert np.array_equal(mine["feature_idx"], theirs["feature_idx"])
        assert np.array_equal(mine["num_threshold"], theirs["num_threshold"])
        assert np.array_equal(mine["count"] * 2, theirs["count"])  # every claim was two rows
    np.testing.assert_allclose(once.predict_proba(x_val), doubled.predict_proba(x_val), atol=1e-9)


def test_the_fitted_student_is_the_plain_classifier_the_service_scores(soft_labelled):
    x, p, x_val, p_val = soft_labelled
    student = plain_classifier(probability_classifier(_trees()).fit(x, p, X_val=x_val, y_val=p_val))
    assert type(student) is HistGradientBoostingClassifier
    assert student.classes_.tolist() == [False, True]
    assert student.predict(x_val).dtype == bool
    # a leaf of 21 rows held at least 11 claims when each claim was two rows
    assert student.get_params()["min_samples_leaf"] == 11


@pytest.mark.parametrize("label", [-0.1, 1.5, np.nan])
def test_a_label_that_is_not_a_probability_is_refused(soft_labelled, label):
    x, p, x_val, p_val = soft_labelled
    labels = p.copy()
    labels[0] = label
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        probability_classifier(_trees()).fit(x, labels, X_val=x_val, y_val=p_val)
