"""Realised performance beside the test set's, for the review notebook: a version's test figures
(its training run's `test_<metric>` and `test_<metric>__<slice>`) next to the latest realised
figures the outcomes report logged for it (the `serving-outcomes` run's `realised_<metric>` and
`realised_<metric>__<slice>`, scoring.realised), overall, per plan type and per treatment.
"""
from __future__ import annotations

import math

import pandas as pd

from scoring.mlflow_store import store_label
from scoring.model_identity import UNRECORDED_NOTE, attribution_refusal, registered_identity, tagged_identities
from scoring.realised import EXPERIMENT, REALISED_SLICE_COLUMNS, SLICE_METRICS, slice_metric_key
from training.review.versions import ReviewInputError, resolve_version

COLUMNS = ("column", "value", "test_rows", *(f"test_{metric}" for metric in SLICE_METRICS),
           "realised_claims", *(f"realised_{metric}" for metric in SLICE_METRICS))


def latest_outcomes_run(client, name: str, version: str):
    """The newest `serving-outcomes` run of this version, or None when no report measured it yet."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    runs = client.search_runs([experiment.experiment_id], max_results=1, order_by=["attributes.start_time DESC"],
                              filter_string=f"tags.model_name = '{name}' and tags.model_version = '{version}'")
    return runs[0] if runs else None


def checked_outcomes_run(client, name: str, version):
    """The newest `serving-outcomes` run of this version (None when there is none), once its served
    claims are known to be this version's: ReviewInputError, one line, when the run's audit rows
    recorded another run or manifest (scoring.model_identity)."""
    version = resolve_version(client, name, version)
    run = latest_outcomes_run(client, name, str(version.version))
    if run is None:
        return None
    refusal = attribution_refusal(name, version.version, tagged_identities(run.data.tags),
                                  registered_identity(client, name, version.version),
                                  f"in store {store_label(client.tracking_uri)}")
    if refusal:
        raise ReviewInputError(f"outcomes run {run.info.run_id}: {refusal}; its realised figures are not this "
                               "version's")
    return run


def realised_beside_test(client, name: str, version) -> pd.DataFrame:
    """One row overall (`column` "all") and one per plan type and per treatment that either side
    measured; NaN where a side has no figure. `attrs` carries the outcomes run, its window, alarm
    and how its claims were attributed. ReviewInputError as checked_outcomes_run."""
    version = resolve_version(client, name, version)
    test = client.get_run(version.run_id).data.metrics if version.run_id else {}
    run = checked_outcomes_run(client, name, version)
    realised = run.data.metrics if run is not None else {}
    rows = [_row("all", "", test, realised, {
        "test_rows": "test_rows", **{f"test_{metric}": f"test_{metric}" for metric in SLICE_METRICS},
        "realised_claims": "realised_claims",
        **{f"realised_{metric}": f"realised_{metric}" for metric in SLICE_METRICS}})]
    for column in REALISED_SLICE_COLUMNS:
        values = sorted({key.split(f"__{column}_", 1)[1] for key in [*test, *realised]
                         if f"__{column}_" in key and key.startswith(("test_rows__", "realised_claims__"))})
        for value in values:
            names = {"test_rows": f"test_rows__{column}_{value}",
                     "realised_claims": slice_metric_key("claims", column, value)}
            names.update({f"test_{metric}": f"test_{metric}__{column}_{value}" for metric in SLICE_METRICS})
            names.update({f"realised_{metric}": slice_metric_key(metric, column, value) for metric in SLICE_METRICS})
            rows.append(_row(column, value, test, realised, names))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame.attrs.update(model_version=str(version.version), outcomes_run=run.info.run_id if run else None,
                       window=(run.data.tags.get("window_start"), run.data.tags.get("window_end")) if run else None,
                       alarm=run.data.tags.get("alarm") if run else None,
                       attribution=(None if run is None else "by run and manifest" if tagged_identities(run.data.tags)
                                    else f"claims {UNRECORDED_NOTE}"))
    return frame


def _row(column: str, value: str, test: dict, realised: dict, names: dict[str, str]) -> dict:
    row = {"column": column, "value": value}
    for out, key in names.items():
        source = test if out.startswith("test_") else realised
        row[out] = float(source.get(key, math.nan))
    return row
