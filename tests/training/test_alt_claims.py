"""Training must not depend on the demo generator: a file from an independent generator (another
treatment mix and other effects, same contract) trains end to end and beats the rules alone."""
from __future__ import annotations

import pytest

from tests.training.alt_claims import write_alt_history
from training.train import run_training


@pytest.mark.slow
def test_a_file_the_demo_generator_did_not_write_trains_and_beats_rules_only(tmp_path, quick_training_params):
    data = write_alt_history(tmp_path / "alt.csv", rows=8_000, seed=3)
    result = run_training(data, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", models_dir=tmp_path / "models",
                          params=quick_training_params(), progress=False, echo=lambda line: None)
    metrics = result.metrics
    assert result.rows_quarantined == 0 and result.promoted
    assert metrics["test_auc"] > metrics["test_rules_only_auc"] + 0.02
    assert metrics["test_brier"] < metrics["test_rules_only_brier"]
    assert metrics["test_classifier_auc"] > 0.7
    # Its truth file came along: how close to the best possible model, on 8,000 claims.
    # (measured 0.998 and 1.067; `python -m benchmarks train` gives the 200,000-claim figures)
    assert metrics["test_auc_ratio_to_truth"] > 0.98
    assert metrics["test_expected_brier_ratio_to_truth"] < 1.15
    assert (tmp_path / "models" / "champion" / "SHA256SUMS").is_file()
