"""Several history files as one training set: one claim id once, the newer outcome winning, each
input's sha256 and row counts kept."""
from __future__ import annotations

import pandas as pd

from claims_io.fields import ADJUDICATION_DATE
from training.data.histories import load_histories
from scoring.artifacts import file_sha256


def _history(source, path, claim_ids, **columns):
    frame = pd.read_csv(source, dtype=str, keep_default_na=False).head(len(claim_ids)).assign(claim_id=claim_ids)
    frame = frame.assign(**columns)
    frame.to_csv(path, index=False)
    return path


def test_a_claim_in_two_files_keeps_the_newer_outcome(trained_store, tmp_path):
    source = trained_store.files["better"]
    old = _history(source, tmp_path / "old.csv", ["A", "B", "C"], outcome="approved", paid_amount="10",
                   denial_reason="")
    served = _history(source, tmp_path / "served.csv", ["B", "C", "D"], outcome="denied", paid_amount="0",
                      denial_reason="50", **{ADJUDICATION_DATE: ["2026-05-01", "2026-05-01", "2026-05-02"]})
    later = _history(source, tmp_path / "later.csv", ["C"], outcome="partial", paid_amount="5", denial_reason="119")
    # the dated (served) outcome wins over both undated ones, whatever the order of the files
    histories = load_histories([served, old, later])
    claims = histories.loaded.claims.set_index("claim_id")
    assert sorted(claims.index) == ["A", "B", "C", "D"]
    assert claims.loc["A", "outcome"] == "approved" and claims.loc["B", "outcome"] == "denied"
    assert claims.loc["C", "outcome"] == "denied"
    assert [(item.file, item.rows_read, item.rows_loaded, item.rows_superseded) for item in histories.inputs] == [
        ("served.csv", 3, 3, 0), ("old.csv", 3, 3, 2), ("later.csv", 1, 1, 1)]
    assert [item.sha256 for item in histories.inputs] == [file_sha256(path) for path in (served, old, later)]
    tags = histories.run_tags()
    assert tags["data_input_2_sha256"] == file_sha256(old) and tags["data_input_3_rows_read"] == "1"
    # undated files: the later one wins
    undated = load_histories([old, later]).loaded.claims.set_index("claim_id")
    assert undated.loc["C", "outcome"] == "partial"


def test_one_file_loads_as_it_always_did(trained_store):
    path = trained_store.files["base"]
    histories = load_histories([path])
    assert histories.sha256 == file_sha256(path) and histories.files == path.name
    assert histories.inputs[0].rows_quarantined > 0  # the base file has deliberately bad rows
    assert "file" not in histories.loaded.quarantine.columns
