"""Every review kept with what the reviewer read: one MLflow run per review, indexed on the model
version.

`run_review` (the `medspa-coverage review` command) executes notebooks/01-model-review.ipynb with
papermill, renders the executed notebook to static HTML with nbconvert, and, when a decision was
given, records it with `record_review`:

- a run of the `model-reviews` experiment: tags naming the model, version, champion version,
  decision, reviewer, comment, override reason, the claims reviewed and the verdict; the figures
  the reviewer saw as metrics (`figures_seen`); the notebook's parameters as params; the executed
  notebook and its HTML as artifacts (`review/`);
- on the model version, the index: a numbered `review_history_NNN` tag (JSON: the same record and
  the run's id) that no later review touches, and the `review_*` tags (REVIEW_TAGS) of the latest.

The notebook itself records nothing: run by hand, it checks the decision and says how to keep it,
so every kept review has the notebook that was executed with that decision. Nothing here moves an
alias: promotion stays with the gate. The executed notebook shows example claims from the test
file (patient data): its files are written owner-only, and the store's artifact folder needs the
care the claims files get.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.paths import PROJECT_ROOT
from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, ensure_experiment, log_version_run, resolve_tracking_uri
from training.review.realised import checked_outcomes_run
from training.review.verdict import REVIEW_DECISIONS, FAILS, check_decision_parameters
from training.review.versions import ReviewInputError, champion_for_review, open_client, resolve_version

REVIEW_EXPERIMENT = "model-reviews"
REVIEW_NOTEBOOK = PROJECT_ROOT / "notebooks" / "01-model-review.ipynb"
REVIEWS_DIR = PROJECT_ROOT / "var" / "reviews"  # where `review` writes executed notebooks by default
KERNEL = "python3"  # the venv's own kernel (tests/notebooks checks it is this environment's python)
ARTIFACT_FOLDER = "review"
# The latest review, as tags on the model version; every review also keeps its own history tag.
REVIEW_TAGS = ("review_decision", "review_reviewer", "review_comment", "review_recorded_at", "review_test_claims",
               "review_override_reason", "review_champion_version", "review_run_id", "review_count")
REVIEW_HISTORY_PREFIX = "review_history_"
REVIEW_TEXT_LIMIT = 1000  # characters of free text kept per field: a history record must fit one tag
REVIEW_HISTORY_COLUMNS = ["recorded_at", "decision", "reviewer", "comment", "override_reason", "champion_version",
                          "test_claims", "run_id", "figures"]
# Notebook parameters that are the record's own fields, not settings of the review (kept as tags).
RECORD_PARAMETERS = ("decision", "reviewer", "comment", "override_reason", "review_record_file")


@dataclass
class KeptReview:
    version: str
    notebook: Path  # the executed notebook
    html: Path  # its static rendering
    run_id: str | None = None  # the review's MLflow run; None when no decision was given
    tags: dict | None = None  # the latest-review tags now on the version


# -- what the notebook hands over -------------------------------------------------------------------
def figures_seen(verdict, band_changes: pd.DataFrame | None = None, costs: pd.DataFrame | None = None,
                 payments: pd.DataFrame | None = None) -> dict[str, float]:
    """The numbers the reviewer read, flat, as run metrics: each verdict metric's champion,
    challenger, difference and interval; claims changing band; cost and payment-error differences."""
    found = {"verdict_claims": float(verdict.claims), "verdict_resamples": float(verdict.resamples)}
    for metric, row in verdict.table.iterrows():
        for column in ("champion", "challenger", "difference", "low", "high"):
            if np.isfinite(row[column]):
                found[f"{metric}_{column}"] = float(row[column])
    if band_changes is not None:
        found["claims_changing_band"] = float(band_changes["claims"].sum())
        found["share_changing_band"] = float(band_changes["share_of_claims"].sum())
    for table, columns in ((costs, ("weighted_cost", "cost_per_1000_claims", "wrong_approvals", "wrong_denials")),
                           (payments, ("mean_absolute_error", "mean_error"))):
        if table is not None and "difference" in table.index:
            found.update({f"{column}_difference": float(table.loc["difference", column]) for column in columns})
    return found


def review_record(decision, reviewer: str, comment: str, override_reason: str, champion_version, test_claims: str,
                  verdict, band_changes=None, costs=None, payments=None) -> dict:
    """What one review records (the notebook's last cell builds it; `record_review` keeps it)."""
    champion = getattr(champion_version, "version", champion_version)
    return {"decision": decision, "reviewer": str(reviewer or "").strip(), "comment": str(comment or ""),
            "override_reason": str(override_reason or ""), "champion_version": str(champion or "none"),
            "test_claims": str(test_claims), "figures": verdict.figures(),
            "metrics": figures_seen(verdict, band_changes, costs, payments)}


def write_record(record: dict, path) -> None:
    Path(path).write_text(json.dumps(record, default=str))


# -- keeping it -------------------------------------------------------------------------------------
def record_review(client, name: str, version, record: dict, notebook: Path, html: Path,
                  parameters: dict | None = None) -> KeptReview:
    """Keep one review: its MLflow run with the notebook and its HTML, then the version's tags
    (see the module docstring). Refuses a malformed decision, and an approval of a challenger the
    verdict fails without an override reason, before anything is written."""
    decision, reviewer, override_reason = record.get("decision"), record.get("reviewer"), record.get("override_reason")
    check_decision_parameters(decision, reviewer, override_reason)
    if decision is None:
        raise ReviewInputError(f"decision must be one of {', '.join(REVIEW_DECISIONS)} to record a review; got None")
    if decision == "approve" and record.get("figures", {}).get("outcome") == FAILS and not str(override_reason).strip():
        raise ReviewInputError("an approval of a challenger the verdict fails needs override_reason")
    for path in (notebook, html):
        if not Path(path).is_file():
            raise ReviewInputError(f"{path}: no such file; a review is kept with its executed notebook and its HTML")
    version = resolve_version(client, name, version)
    number = len(review_history(client, name, version)) + 1
    kept = {"decision": decision, "reviewer": str(reviewer).strip(),
            "comment": str(record.get("comment", ""))[:REVIEW_TEXT_LIMIT],
            "recorded_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "test_claims": str(record.get("test_claims", ""))[:REVIEW_TEXT_LIMIT],
            "override_reason": str(override_reason or "")[:REVIEW_TEXT_LIMIT],
            "champion_version": str(record.get("champion_version") or "none")}
    run_id = _log_review_run(client, name, str(version.version), number, kept, record, notebook, html, parameters)
    tags = {f"review_{key}": value for key, value in kept.items()}
    tags.update(review_run_id=run_id, review_count=str(number))
    history = {**kept, "run_id": run_id, "figures": record.get("figures", {})}
    for key, value in {f"{REVIEW_HISTORY_PREFIX}{number:03d}": json.dumps(history, default=str), **tags}.items():
        client.set_model_version_tag(name, str(version.version), key, value)
    return KeptReview(str(version.version), Path(notebook), Path(html), run_id, tags)


def _log_review_run(client, name: str, version: str, number: int, kept: dict, record: dict, notebook: Path,
                    html: Path, parameters: dict | None) -> str:
    experiment_id = ensure_experiment(client, REVIEW_EXPERIMENT, client.tracking_uri)
    figures = record.get("figures", {})
    tags = {"review_number": str(number), "verdict": str(figures.get("outcome", "")),
            "deciding_rule": str(figures.get("deciding_rule", "")), **kept}
    return log_version_run(
        client, experiment_id, f"review-v{version}-{number:03d}", name, version, tags=tags,
        metrics={key: value for key, value in record.get("metrics", {}).items()
                 if value is not None and np.isfinite(value)},
        params={key: str(value)[:REVIEW_TEXT_LIMIT] for key, value in (parameters or {}).items()},
        timestamp_ms=int(pd.Timestamp.now(tz="UTC").timestamp() * 1000),
        artifacts=[(notebook, ARTIFACT_FOLDER), (html, ARTIFACT_FOLDER)], link=False)


def review_history(client, name: str, version) -> pd.DataFrame:
    """Every review recorded on the version, oldest first (one row each, figures as a dict)."""
    version = client.get_model_version(name, str(resolve_version(client, name, version).version))
    records = [json.loads(value) for key, value in sorted(version.tags.items())
               if key.startswith(REVIEW_HISTORY_PREFIX)]
    return pd.DataFrame(records, columns=REVIEW_HISTORY_COLUMNS)


# -- running the notebook ---------------------------------------------------------------------------
def render_html(notebook: Path) -> Path:
    """The executed notebook as one static HTML file beside it (nbconvert), readable without Jupyter."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(notebook))
    html = Path(notebook).with_suffix(".html")
    _write_private(html, body)
    return html


def run_review(challenger, decision=None, reviewer: str = "", comment: str = "", override_reason: str = "", *,
               tracking_uri: str | None = None, model_name: str = REGISTERED_MODEL, out_dir=None,
               notebook: Path = REVIEW_NOTEBOOK, **parameters) -> KeptReview:
    """Execute the review notebook on `challenger` (papermill), render it to HTML, and keep the
    decision with both (`record_review`); without a decision, only the two files. `parameters` are
    the notebook's other parameters (champion_reference, test_file, resamples, cost weights...)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    check_decision_parameters(decision, reviewer, override_reason)  # before minutes of work
    uri = resolve_tracking_uri(tracking_uri)
    client = open_client(uri)
    version = str(resolve_version(client, model_name, challenger).version)
    champion = champion_for_review(client, model_name, version, parameters.get("champion_reference", CHAMPION))
    for reviewed in (version, champion):  # another model's realised figures: refused before minutes of work
        if reviewed is not None:
            checked_outcomes_run(client, model_name, reviewed)
    folder = Path(out_dir) if out_dir else REVIEWS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{model_name}-v{version}-{pd.Timestamp.now(tz='UTC').strftime('%Y%m%dT%H%M%SZ')}"
    executed, record_file = folder / f"{stem}.ipynb", folder / f"{stem}.record.json"
    settings = {"tracking_uri": uri, "model_name": model_name, "challenger": version, **parameters}
    _write_private(executed, "")  # owner-only before papermill writes claims into it
    try:
        papermill.execute_notebook(str(notebook), str(executed), kernel_name=KERNEL, progress_bar=False,
                                   parameters={**settings, "decision": decision, "reviewer": reviewer,
                                               "comment": comment, "override_reason": override_reason,
                                               "review_record_file": str(record_file)})
    except PapermillExecutionError as error:
        raise ReviewInputError(f"the review stopped ({error.ename}: {error.evalue}); nothing was recorded; "
                               f"the notebook as far as it ran: {executed}") from None
    html = render_html(executed)
    if decision is None:
        return KeptReview(version, executed, html)
    record = json.loads(record_file.read_text())
    record_file.unlink()
    return record_review(client, model_name, version, record, executed, html,
                         {key: value for key, value in settings.items() if key not in RECORD_PARAMETERS})


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: an executed review shows example claims."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
