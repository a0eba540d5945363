"""Every review kept (training.review.records): one run of the `model-reviews` experiment per review,
with the notebook and its HTML, and the version's tags as the index; on a copy of the session's store.
The whole path through the notebook (`run_review`) runs in tests/notebooks."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from features.contract import TARGET
from tests.stores import version
from scoring.mlflow_store import REGISTERED_MODEL
from training.review import records
from training.review.verdict import FAILS, verdict_on_claims
from training.review.versions import ReviewInputError, open_client

pytestmark = pytest.mark.slow  # the session's trained store


@pytest.fixture
def store_client(trained_store, tmp_path):
    return open_client(trained_store.copy_to(tmp_path / "store").uri)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A small executed notebook and its HTML, as `run_review` leaves them."""
    folder = tmp_path_factory.mktemp("review")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Model review"),
                                               nbformat.v4.new_code_cell("print('VERDICT: passes')")])
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="VERDICT: passes\n")]
    path = folder / "review.ipynb"
    nbformat.write(notebook, path)
    return path, records.render_html(path)


@pytest.fixture(scope="module")
def verdict():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.4
    frame = pd.DataFrame({"claim_id": [f"C{i}" for i in range(400)], TARGET: y})

    def scored(noise):
        probability = np.clip(y * 0.6 + 0.2 + rng.normal(0, noise, 400), 0, 1)
        return frame.assign(approval_probability=probability,
                            decision=np.where(probability >= 0.7, "likely_approved",
                                              np.where(probability < 0.3, "likely_denied", "uncertain")))
    return verdict_on_claims(scored(0.3), scored(0.1), resamples=50, names=("challenger v2", "champion v1"))


def record(verdict, decision="reject", reviewer="A. Reviewer", override_reason="", comment="calibration"):
    return records.review_record(decision, reviewer, comment, override_reason, "3", "the run's test split", verdict)


def test_the_figures_seen_are_the_verdicts_numbers_flat(verdict):
    seen = records.figures_seen(verdict)
    assert seen["auc_difference"] == pytest.approx(verdict.table.loc["auc", "difference"])
    assert seen["ece_low"] == pytest.approx(verdict.table.loc["ece", "low"])
    assert seen["verdict_claims"] == 400 and seen["verdict_resamples"] == 50
    costs = pd.DataFrame({"weighted_cost": [3.0, 5.0, -2.0], "cost_per_1000_claims": [1.0, 2.0, -1.0],
                          "wrong_approvals": [1, 2, -1], "wrong_denials": [2, 3, -1]},
                         index=["challenger", "champion", "difference"])
    moves = pd.DataFrame({"claims": [4, 2], "share_of_claims": [0.01, 0.005]})
    seen = records.figures_seen(verdict, band_changes=moves, costs=costs)
    assert (seen["claims_changing_band"], seen["weighted_cost_difference"]) == (6.0, -2.0)


def test_every_review_is_one_run_with_its_notebook_and_an_index_tag(store_client, trained_store, executed, verdict):
    notebook, html = executed
    worse = version(trained_store, "worse")
    first = records.record_review(store_client, REGISTERED_MODEL, worse, record(verdict, "approve", " B. Lead ",
                                  override_reason="policy change"), notebook, html, {"resamples": 50})
    second = records.record_review(store_client, REGISTERED_MODEL, worse, record(verdict), notebook, html)
    assert first.run_id != second.run_id
    run = store_client.get_run(first.run_id)
    experiment = store_client.get_experiment(run.info.experiment_id)
    assert experiment.name == records.REVIEW_EXPERIMENT and run.info.status == "FINISHED"
    tags = run.data.tags
    assert (tags["model_name"], tags["model_version"], tags["champion_version"]) == (REGISTERED_MODEL, worse, "3")
    assert (tags["decision"], tags["reviewer"], tags["override_reason"]) == ("approve", "B. Lead", "policy change")
    assert tags["verdict"] == verdict.outcome
    assert run.data.metrics["auc_difference"] == pytest.approx(verdict.table.loc["auc", "difference"])
    assert run.data.params == {"resamples": "50"}
    stored = {item.path for item in store_client.list_artifacts(first.run_id, records.ARTIFACT_FOLDER)}
    assert stored == {f"review/{notebook.name}", f"review/{html.name}"}
    page = open(store_client.download_artifacts(first.run_id, f"review/{html.name}")).read()
    assert "VERDICT: passes" in page and page.lstrip().lower().startswith("<!doctype html")
    # the version's tags: the index of every review, the latest on top
    history = records.review_history(store_client, REGISTERED_MODEL, worse)
    assert history["decision"].tolist() == ["approve", "reject"]
    assert history["run_id"].tolist() == [first.run_id, second.run_id]
    assert history["figures"].iloc[0]["outcome"] == verdict.outcome
    latest = store_client.get_model_version(REGISTERED_MODEL, worse).tags
    assert {key: latest[key] for key in records.REVIEW_TAGS} == second.tags
    assert (latest["review_run_id"], latest["review_count"]) == (second.run_id, "2")
    assert store_client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version != int(worse)
    original = open_client(trained_store.uri)  # the copy took them
    assert records.review_history(original, REGISTERED_MODEL, worse).empty


@pytest.mark.parametrize("changes, message", [
    ({"decision": "approved"}, "approve, reject"),
    ({"reviewer": "  "}, "reviewer"),
    ({"decision": None}, "decision must be one of"),
])
def test_a_malformed_review_is_refused_and_leaves_nothing(store_client, trained_store, executed, verdict, changes,
                                                          message):
    notebook, html = executed
    with pytest.raises(ReviewInputError, match=message):
        records.record_review(store_client, REGISTERED_MODEL, version(trained_store, "base"),
                              {**record(verdict), **changes}, notebook, html)
    assert store_client.get_experiment_by_name(records.REVIEW_EXPERIMENT) is None
    assert records.review_history(store_client, REGISTERED_MODEL, version(trained_store, "base")).empty


def test_an_approval_the_verdict_fails_needs_a_reason_and_a_review_needs_its_notebook(store_client, trained_store,
                                                                                      executed, verdict, tmp_path):
    notebook, html = executed
    failed = {**record(verdict, "approve"), "figures": {**verdict.figures(), "outcome": FAILS}}
    with pytest.raises(ReviewInputError, match="override_reason"):
        records.record_review(store_client, REGISTERED_MODEL, version(trained_store, "worse"), failed, notebook, html)
    with pytest.raises(ReviewInputError, match="executed notebook"):
        records.record_review(store_client, REGISTERED_MODEL, version(trained_store, "worse"), record(verdict),
                              tmp_path / "missing.ipynb", html)
    assert records.review_history(store_client, REGISTERED_MODEL, version(trained_store, "worse")).empty


def test_the_record_the_notebook_hands_over_is_plain_json(verdict, tmp_path):
    path = tmp_path / "record.json"
    records.write_record(record(verdict), path)
    read = json.loads(path.read_text())
    assert read["decision"] == "reject" and read["figures"]["outcome"] == verdict.outcome
    assert read["metrics"]["auc_difference"] == pytest.approx(verdict.table.loc["auc", "difference"])
