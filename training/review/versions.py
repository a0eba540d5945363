"""Which registered versions a review looks at, shared by both review notebooks: a client on the
store, a version by number or alias, the champion a challenger is judged against, and their models
(loaded through scoring.artifacts, verified like every model load)."""
from __future__ import annotations

from scoring.artifacts import load_model
from scoring.saved_profiles import version_training_profile
from scoring.mlflow_store import (CHAMPION, REGISTERED_MODEL, TrackingStoreError, mlflow_client,
                                         resolve_tracking_uri)


class ReviewInputError(ValueError):
    """The review cannot start as asked; the message says what to set instead."""


def open_client(tracking_uri: str | None = None):
    """An MlflowClient on the store (None: the project's default). A sqlite store must exist:
    a mistyped path would otherwise create an empty one."""
    try:
        return mlflow_client(tracking_uri, must_exist=True)
    except TrackingStoreError:
        raise ReviewInputError(f"no MLflow store at {resolve_tracking_uri(tracking_uri)}; set tracking_uri to the "
                               "store that holds the models") from None


def resolve_version(client, name: str, reference):
    """A ModelVersion from a version number (`3`, `"3"`) or an alias (`"challenger"`)."""
    from mlflow.exceptions import MlflowException

    if hasattr(reference, "version"):
        return reference
    reference = str(reference)
    try:
        if reference.isdigit():
            return client.get_model_version(name, reference)
        return client.get_model_version_by_alias(name, reference)
    except MlflowException as error:
        raise ReviewInputError(f"model {name!r} has no version or alias {reference!r}") from error


def champion_for_review(client, name: str, challenger, champion_alias: str = CHAMPION):
    """The version the challenger is judged against, or None when there is none.

    Normally the alias's version. When the alias already points at the challenger (the gate
    promoted it), the champion it replaced, from the challenger's `gate_champion_before` tag.
    """
    challenger = resolve_version(client, name, challenger)
    try:
        champion = resolve_version(client, name, champion_alias)
    except ReviewInputError:
        champion = None
    if champion is not None and str(champion.version) != str(challenger.version):
        return champion
    before = challenger.tags.get("gate_champion_before", "none")
    return resolve_version(client, name, before) if before.isdigit() else None


def load_version(client, name: str, version):
    """The CoverageModel of one registered version."""
    version = resolve_version(client, name, version)
    return load_model(f"models:/{name}/{version.version}", client.tracking_uri).model


def load_models(client, name: str, challenger, champion=None) -> dict[str, object]:
    """{`challenger vN`: model, `champion vM`: model} (the champion only when given)."""
    models = {label(resolve_version(client, name, challenger), "challenger"): load_version(client, name, challenger)}
    if champion is not None:
        models[label(resolve_version(client, name, champion), "champion")] = load_version(client, name, champion)
    return models


def champion_training_profile(tracking_uri: str | None = None, name: str = REGISTERED_MODEL,
                              alias: str = CHAMPION) -> tuple[str, dict] | None:
    """(`champion vN`, its training-data profile), or None when there is no store or no such alias."""
    try:
        client = open_client(tracking_uri)
        version = resolve_version(client, name, alias)
    except ReviewInputError:
        return None
    return label(version, alias), version_training_profile(client, client.tracking_uri, name, version.version)


def label(version, role: str) -> str:
    """`challenger v3`: how tables and figures name a version."""
    return f"{role} v{version.version}"
