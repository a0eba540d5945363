"""Every notebook runs end to end with small parameters against a temporary MLflow store (see
tests/stores.py), on the venv's `python3` kernel; committed notebooks carry no outputs."""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from training.model.mlflow_store import REGISTERED_MODEL
from training.review.model_review import REVIEW_TAGS
from training.review.versions import open_client

pytestmark = pytest.mark.slow  # starts three kernels

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
MODEL_REVIEW = NOTEBOOKS / "01-model-review.ipynb"
CLAIMS_PROFILE = NOTEBOOKS / "02-claims-data-profile.ipynb"
KERNEL = "python3"
SMALL = {"sample_rows": 300, "advice_rows": 100, "miss_rows": 5}


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


def review_tags(store, version: str) -> dict[str, str]:
    tags = open_client(store.uri).get_model_version(REGISTERED_MODEL, version).tags
    return {key: value for key, value in tags.items() if key in REVIEW_TAGS}


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


def test_model_review_runs_on_the_runs_own_test_split_and_records_nothing_without_a_decision(trained_store, tmp_path):
    challenger = trained_store.runs["better"].model_version
    before = review_tags(trained_store, challenger)
    result = execute(MODEL_REVIEW, tmp_path / "review.ipynb", tracking_uri=trained_store.uri,
                     challenger=challenger, data_dir=str(trained_store.data_dir), **SMALL)
    text = printed(result)
    assert f"challenger v{challenger}, champion v" in text
    assert "the newest 20% of better.csv" in text and "monotonic constraints hold" in text
    assert "No decision recorded" in text
    assert images(result) >= 3  # ROC and PR, reliability, partial dependence
    assert review_tags(trained_store, challenger) == before


def test_model_review_records_the_decision_on_the_challenger_version(trained_store, tmp_path):
    challenger = trained_store.runs["better"].model_version
    execute(MODEL_REVIEW, tmp_path / "review.ipynb", tracking_uri=trained_store.uri, challenger="challenger",
            test_file=str(trained_store.files["better"]), decision="reject", reviewer="A. Reviewer",
            comment="ECE rose on medicare", **SMALL)
    tags = review_tags(trained_store, challenger)
    assert (tags["review_decision"], tags["review_reviewer"], tags["review_comment"]) == \
        ("reject", "A. Reviewer", "ECE rose on medicare")
    assert tags["review_recorded_at"] and "every valid claim of better.csv" in tags["review_test_claims"]


def test_claims_profile_runs_with_quarantine_and_drift(trained_store, tmp_path):
    result = execute(CLAIMS_PROFILE, tmp_path / "profile.ipynb", tracking_uri=trained_store.uri,
                     claims_file=str(trained_store.files["base"]))
    text = printed(result)
    assert "rows quarantined" in text and "against the training profile of champion v" in text
    assert images(result) >= 1
