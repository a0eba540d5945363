"""Where MLflow keeps runs and registered models, and the one way to open a client on it.

Tracking URI: an explicit option, else the MLFLOW_TRACKING_URI environment variable, else
DEFAULT_TRACKING_URI = `sqlite:///<project root>/var/mlflow.db`. For a sqlite store each
experiment's artifacts live beside the database, in `<database folder>/mlartifacts/<experiment>`;
a tracking server (`http://...`) chooses its own artifact location; another database
(`postgresql+psycopg://...`, shared by several hosts) keeps no files, so its experiments put them
under MEDSPA_COVERAGE_ARTIFACT_ROOT (a folder or a URI such as `s3://bucket/mlflow` that every host
can read), and creating one without it is refused rather than left in the current folder. The
registry uses the same URI. mlflow is imported only inside the functions that need it: importing this module is free.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from common.paths import PROJECT_ROOT

DEFAULT_TRACKING_URI = f"sqlite:///{PROJECT_ROOT / 'var' / 'mlflow.db'}"
# Every command's --tracking-uri says the same: resolve_tracking_uri's order.
TRACKING_URI_HELP = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<project>/var/mlflow.db)"
REGISTERED_MODEL = "medspa-coverage"
# Registry aliases (stages are deprecated): the served version, the newest registered one, and
# the champion the last promotion replaced (the rollback target).
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
_ARTIFACT_PROGRESS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
ARTIFACT_ROOT_ENV = "MEDSPA_COVERAGE_ARTIFACT_ROOT"


class TrackingStoreError(RuntimeError):
    """The tracking store cannot be opened as asked; the message says what to do."""


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The option, else MLFLOW_TRACKING_URI, else the project's sqlite file."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """`sqlite:////abs/mlflow.db` -> that path; None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


def experiment_artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment keeps its artifacts (see the module docstring); None: the server's choice."""
    database = sqlite_path(uri)
    if database is not None:
        return (database.parent / "mlartifacts" / experiment).resolve().as_uri()
    root = os.environ.get(ARTIFACT_ROOT_ENV)
    if root:
        return f"{root.rstrip('/')}/{experiment}" if "://" in root else (Path(root) / experiment).resolve().as_uri()
    if "://" in uri and not uri.split("://", 1)[0].startswith(("http", "databricks", "file", "sqlite")):
        raise TrackingStoreError(f"a tracking database keeps no artifacts: set {ARTIFACT_ROOT_ENV} to a folder or "
                                 "URI every host can read (s3://..., a shared mount), or use an MLflow server "
                                 "(http://...) that stores them")
    return None


def mlflow_client(tracking_uri: str | None = None, *, must_exist: bool = False):
    """An MlflowClient on the store (also its registry). `must_exist` refuses a sqlite file that is
    not there, rather than creating an empty store as a side effect of a mistyped path."""
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    database = sqlite_path(uri)
    if must_exist and database is not None and not database.is_file():
        raise TrackingStoreError(f"no MLflow tracking database at {database}: train a model first "
                                 "(`medspa-coverage train`, or `make serve` for the demo)")
    quiet_artifact_downloads()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def quiet_artifact_downloads() -> None:
    """Our commands print their own progress, and the service logs JSON lines, not bars."""
    os.environ.setdefault(_ARTIFACT_PROGRESS, "false")


@contextmanager
def tracking(uri: str):
    """Point MLflow's fluent API (runs, log_model) at `uri` for the duration, then restore it.

    Yields a client for the same store. A sqlite store's folder is created on entry."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils

    database = sqlite_path(uri)
    if database is not None:  # sqlite creates the file, not its folder
        database.parent.mkdir(parents=True, exist_ok=True)
    # An unset URI is restored as unset, not as MLflow's resolved default (<cwd>/mlflow.db, where
    # later MLflow calls would write); MLflow offers no public reader of the registry's own setting.
    before_tracking = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    before_registry = registry_utils._registry_uri
    before_bar = os.environ.get(_ARTIFACT_PROGRESS)
    # mlflow.set_tracking_uri also writes MLFLOW_TRACKING_URI into the environment: without
    # restoring it, code after this block (a gunicorn started by bootstrap) would see MLflow's
    # default store instead of what the user configured.
    before_environment = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow_client(uri)
    finally:
        mlflow.set_tracking_uri(before_tracking)
        mlflow.set_registry_uri(before_registry)
        for name, value in before_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if before_bar is None:
            os.environ.pop(_ARTIFACT_PROGRESS, None)


def ensure_experiment(client, name: str, uri: str) -> str:
    """The experiment's id, creating it (with the artifact location beside a sqlite store)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=experiment_artifact_location(uri, name))


def store_label(uri: str) -> str:
    """The tracking URI as messages name it: a password in it is never printed."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def number_ranges(numbers) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"; "none" for no numbers."""
    ranges: list[list[int]] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    return ", ".join(f"{low}-{high}" if high > low else str(low) for low, high in ranges) or "none"


def no_such_version(client, name: str, version: str) -> str:
    """"no version 9 of medspa-coverage in STORE (versions: 1-3)": what exists, to choose from."""
    from mlflow.exceptions import MlflowException

    try:
        numbers = [int(found.version) for found in client.search_model_versions(f"name = '{name}'")]
    except MlflowException:
        numbers = []
    return f"no version {version} of {name} in {store_label(client.tracking_uri)} (versions: {number_ranges(numbers)})"


def no_such_alias(client, name: str, alias: str) -> str:
    """"registered model X in STORE has no version with alias 'gold' (aliases: champion -> 3, ...)"."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client.get_registered_model(name).aliases or {}
    except MlflowException:
        return f"no registered model {name!r} in {store_label(client.tracking_uri)} (train one first: " \
               "`medspa-coverage train`)"
    known = ", ".join(f"{found} -> {aliases[found]}" for found in sorted(aliases)) or "none"
    return (f"registered model {name!r} in {store_label(client.tracking_uri)} has no version with alias {alias!r} "
            f"(aliases: {known})")


def alias_uri(alias: str, registered_model: str = REGISTERED_MODEL) -> str:
    return f"models:/{registered_model}@{alias}"


def link_run_to_version(client, run_id: str, model_name: str, model_version: str) -> None:
    """Link a run (the serving monitor's, the outcomes report's) to the served version's logged
    model, MLflow 3's way, when the registry knows the version; a version this registry does not
    hold (served from a bundle of another store) leaves the run unlinked: its tags say it all."""
    from mlflow.entities import LoggedModelInput
    from mlflow.exceptions import MlflowException

    try:
        source = client.get_model_version(model_name, model_version).source or ""
        if source.startswith("models:/m-"):
            client.log_inputs(run_id, models=[LoggedModelInput(source[len("models:/"):])])
    except MlflowException:
        pass


def log_version_run(client, experiment_id: str, run_name: str, model_name, model_version, *, tags: dict,
                    metrics: dict[str, float], params: dict[str, str], timestamp_ms: int,
                    artifacts: list[tuple[Path, str | None]] = (), link: bool = True) -> str:
    """One finished run about a model version (the serving monitor's, the outcomes report's, a
    review's): tagged with the version's name and number, its metrics at `timestamp_ms`, its params,
    the artifacts [(file, folder in the run)], linked to the version's logged model (`link`).
    A failure on the way marks the run FAILED and raises. Returns the run's id."""
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, run_name=run_name,
                            tags={"model_name": str(model_name), "model_version": str(model_version), **tags})
    run_id = run.info.run_id
    try:
        client.log_batch(run_id, metrics=[Metric(key, float(value), timestamp_ms, 0) for key, value in metrics.items()],
                         params=[Param(key, value) for key, value in params.items()])
        for path, folder in artifacts:
            client.log_artifact(run_id, str(path), folder)
        if link:
            link_run_to_version(client, run_id, model_name, model_version)
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id)
    return run_id
