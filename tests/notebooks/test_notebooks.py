"""Every notebook runs end to end with small parameters against a temporary MLflow store (see
tests/stores.py), on the venv's `python3` kernel; committed notebooks carry no outputs. Reviews that
decide go through `run_review` (`medspa-coverage review`), which keeps each with its notebook."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from scoring.mlflow_store import REGISTERED_MODEL
from tests.stores import plant_problems
from training.review.records import ARTIFACT_FOLDER, REVIEW_EXPERIMENT, review_history, run_review
from training.review.versions import ReviewInputError, open_client

pytestmark = pytest.mark.slow  # starts three kernels

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
MODEL_REVIEW = NOTEBOOKS / "01-model-review.ipynb"
CLAIMS_PROFILE = NOTEBOOKS / "02-claims-data-profile.ipynb"
KERNEL = "python3"
SMALL = {"sample_rows": 300, "advice_rows": 100, "miss_rows": 5}


@pytest.fixture(autouse=True)
def kernels_import_this_checkout(monkeypatch):
    """The kernel imports the code under test, not whichever checkout the venv installed."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def execute(notebook: Path, output: Path, **parameters) -> nbformat.NotebookNode:
    """Run every cell (papermill raises PapermillExecutionError on the first failing one)."""
    return papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name=KERNEL,
                                      progress_bar=False, cwd=str(output.parent))


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def shown(notebook: nbformat.NotebookNode) -> str:
    """Every table and value the notebook displayed, as text (plain and HTML)."""
    return "".join(output.get("data", {}).get(kind, "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) for kind in ("text/plain", "text/html"))


def errors_printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("name") == "stderr")


def history(store, version: str):
    return review_history(open_client(store.uri), REGISTERED_MODEL, version)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_committed_notebooks_have_no_outputs_and_open_with_a_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged parameters"
    assert not any("injected-parameters" in cell.metadata.get("tags", []) for cell in code)
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), "strip outputs before committing"
    assert notebook.metadata["kernelspec"]["name"] == KERNEL


def test_the_python3_kernel_is_this_environments_python():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    # jupyter_client runs a spec's bare `python` as sys.executable: the venv's, under .venv/bin/pytest.
    assert spec.argv[0] == sys.executable or (
        spec.argv[0] in ("python", "python3") and Path(spec.resource_dir).is_relative_to(sys.prefix)), spec.resource_dir


def test_a_challenger_that_is_not_worse_is_not_failed_and_a_notebook_run_by_hand_records_nothing(trained_store,
                                                                                                  tmp_path):
    challenger = trained_store.runs["better"].model_version  # judged against the base model it replaced
    base = trained_store.runs["base"].model_version
    result = execute(MODEL_REVIEW, tmp_path / "review.ipynb", tracking_uri=trained_store.uri,
                     challenger=challenger, training_data_folder=str(trained_store.data_dir), decision="reject",
                     reviewer="A. Reviewer", **SMALL)
    text = printed(result)
    first = next(cell for cell in result.cells if cell.cell_type == "code" and "verdict_on_claims" in cell.source)
    assert "VERDICT:" in "".join(output.get("text", "") for output in first.outputs)  # the verdict comes first
    assert f"VERDICT: challenger v{challenger} against champion v" in text and "FAILS" not in text
    assert "the newest 20% of better.csv" in text and "monotonic constraints hold" in text
    assert "Decision 'reject' checked, not recorded" in text and "medspa-coverage review --challenger" in text
    assert "weights: cost of a wrong approval 1.0" in text
    assert "no outcomes ingested yet: test figures only" in text  # the realised section, before any outcomes
    # champion beside challenger in the misses and the rules
    assert f"champion v{base} probability" in shown(result) and f"challenger v{challenger} probability" in shown(result)
    assert f"champion v{base} decision" in shown(result) and f"champion v{base}: pairings" in text
    assert f"champion v{base}: " in text and "claims were paid although a rule excluded them" in text
    assert images(result) >= 3  # ROC and PR, reliability, partial dependence
    assert "IProgress" not in errors_printed(result)
    assert history(trained_store, challenger).empty


def test_the_clearly_worse_challenger_fails_and_cannot_be_approved_without_a_reason(trained_store, tmp_path):
    store = trained_store.copy_to(tmp_path / "store")
    worse = trained_store.runs["worse"].model_version
    common = dict(tracking_uri=store.uri, out_dir=tmp_path / "reviews", training_data_folder=str(store.data_dir),
                  **SMALL)
    with pytest.raises(ReviewInputError, match="override_reason"):
        run_review(worse, "approve", "A. Reviewer", **common)
    assert history(store, worse).empty
    client = open_client(store.uri)
    assert client.get_experiment_by_name(REVIEW_EXPERIMENT) is None  # a refused review leaves no run
    rejected = run_review(worse, "reject", "A. Reviewer", "AUC fell", **common)
    text = printed(nbformat.read(rejected.notebook, as_version=4))
    assert f"VERDICT: challenger v{worse} against champion v" in text and "FAILS" in text
    approved = run_review(worse, "approve", "B. Lead", override_reason="the payer changed its policy",
                          test_file=str(store.files["better"]), **common)
    # each review is one run of the review experiment, holding the notebook it was made on and its HTML
    for kept, decision in ((rejected, "reject"), (approved, "approve")):
        run = client.get_run(kept.run_id)
        assert (run.data.tags["decision"], run.data.tags["model_version"]) == (decision, worse)
        assert {item.path for item in client.list_artifacts(kept.run_id, ARTIFACT_FOLDER)} == {
            f"{ARTIFACT_FOLDER}/{kept.notebook.name}", f"{ARTIFACT_FOLDER}/{kept.html.name}"}
        assert kept.notebook.stat().st_mode & 0o077 == 0 and kept.html.stat().st_mode & 0o077 == 0  # owner-only
    assert "VERDICT: challenger" in kept.html.read_text() and "handed to `medspa-coverage review`" in kept.html.read_text()
    assert client.get_run(approved.run_id).data.params["test_file"] == str(store.files["better"])
    reviews = history(store, worse)  # two reviews, two records: the second erased nothing
    assert reviews["decision"].tolist() == ["reject", "approve"]
    assert reviews["reviewer"].tolist() == ["A. Reviewer", "B. Lead"]
    assert reviews["override_reason"].tolist() == ["", "the payer changed its policy"]
    champion = trained_store.runs["better"].model_version
    assert reviews["champion_version"].tolist() == [champion, champion]
    assert reviews["figures"].iloc[0]["outcome"] == "fails" and "auc" in reviews["figures"].iloc[0][
        "champion_challenger_difference_low_high"]
    assert "every valid claim of better.csv" in reviews["test_claims"].iloc[1]
    tags = open_client(store.uri).get_model_version(REGISTERED_MODEL, worse).tags
    assert {key: tags[key] for key in ("review_decision", "review_count")} == {"review_decision": "approve",
                                                                                "review_count": "2"}
    assert reviews["run_id"].tolist() == [rejected.run_id, approved.run_id] and tags["review_run_id"] == approved.run_id


def test_claims_profile_says_a_clean_file_is_fit_with_quarantine_and_drift(trained_store, tmp_path):
    result = execute(CLAIMS_PROFILE, tmp_path / "profile.ipynb", tracking_uri=trained_store.uri,
                     claims_file=str(trained_store.files["better"]))
    text = printed(result)
    assert "FIT TO TRAIN: FIT\n" in text and "rows quarantined" in text
    assert "against the training profile of champion v" in text
    assert "approval rate" in text and " here vs " in text and "in the training claims of champion v" in text
    assert "label drift vs the champion's training claims" in shown(result)
    assert images(result) >= 1 and "IProgress" not in errors_printed(result)


def test_claims_profile_says_a_file_with_planted_problems_is_not_fit(trained_store, tmp_path):
    planted = plant_problems(trained_store.files["better"], tmp_path / "planted.csv")
    result = execute(CLAIMS_PROFILE, tmp_path / "profile.ipynb", tracking_uri=trained_store.uri,
                     claims_file=str(planted))
    text = printed(result)
    assert "FIT TO TRAIN: NOT FIT" in text and "fail: duplicate claim_id" in text
