"""Training must not depend on the demo generator: a file from an independent world (another
treatment mix, another payer that disagrees with our tables in places, same contract) trains end
to end and beats the rules alone."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.training.alt_claims import write_alt_history
from tests.training.worlds.world import shared_or_unpaired
from training.train import run_training


@pytest.mark.slow
def test_a_file_the_demo_generator_did_not_write_trains_and_beats_rules_only(tmp_path, quick_training_params):
    data = write_alt_history(tmp_path / "alt.csv", rows=8_000, seed=3)
    raw = pd.read_csv(data, dtype=str, keep_default_na=False)
    result = run_training(data, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", models_dir=tmp_path / "models",
                          params=quick_training_params(), progress=False, echo=lambda line: None)
    metrics = result.metrics
    # Shared codes alone and unpaired treatment + code pairs are contract-valid, and the loader of
    # commit a25715d quarantines them (tests/training/test_worlds.py): none, or exactly those.
    assert result.rows_quarantined in (0, int(shared_or_unpaired(raw["treatment"], raw["procedure_code"]).sum()))
    assert result.promoted
    assert metrics["test_auc"] > metrics["test_rules_only_auc"] + 0.02
    assert metrics["test_brier"] < metrics["test_rules_only_brier"]
    assert metrics["test_classifier_auc"] > 0.7
    # Its truth file came along: how close to the best possible model, on 8,000 claims.
    # (`python -m benchmarks train` gives the 200,000-claim figures)
    assert metrics["test_auc_ratio_to_truth"] > 0.98
    assert metrics["test_expected_brier_ratio_to_truth"] < 1.15
    assert (tmp_path / "models" / "champion" / "SHA256SUMS").is_file()
