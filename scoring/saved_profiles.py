"""The training-data profile saved with a registered version (scoring.profile builds it at fit),
read from the version's verified metadata.json without loading the model: the serving monitor's
drift baseline, and the champion's for `train`'s fit-to-train verdict and the data-profile
notebook. Files that fail verification raise ModelIntegrityError (scoring.artifacts)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from scoring.artifacts import download_model_version, read_saved_metadata


def version_training_profile(client, tracking_uri: str, name: str, version) -> dict | None:
    """The profile saved with `name` version `version`; None for a model saved without one."""
    with tempfile.TemporaryDirectory(prefix="medspa-profile-") as scratch:
        folder = download_model_version(client, tracking_uri, name, str(version), Path(scratch))
        return read_saved_metadata(folder).get("training_profile")
