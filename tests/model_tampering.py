"""Damaged and substituted models, registered beside the genuine ones in a copy of a store, for the
tests that every loader refuses them (scoring.artifacts and each path that uses it).

`register_tampered_copy` downloads a version's files as stored (no check), changes the copy, and
registers it as a new version with the original's tags (its `model_manifest` included): what an
attacker who can write the artifact store, but not the tracking database, can do.
"""
from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path
from typing import Callable

from scoring.artifacts import MODEL_MANIFEST_TAG
from scoring.coverage_model import METADATA_FILE, MODEL_FILE
from scoring.mlflow_store import mlflow_client

SAVED_MODEL = "artifacts/coverage_model"  # where the logged model keeps the saved CoverageModel
MARKER = "code-ran.marker"


def copy_store(database: Path, folder: Path) -> str:
    """A copy of a sqlite tracking database (its artifacts stay where they are, read only); its URI."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "mlflow.db"
    with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return f"sqlite:///{copy}"


def manifest_files(uri: str, name: str, version: str) -> list[str]:
    tags = mlflow_client(uri).get_model_version(name, version).tags
    return [line.partition("  ")[2] for line in tags[MODEL_MANIFEST_TAG].splitlines() if line.strip()]


def register_tampered_copy(uri: str, name: str, version: str, folder: Path,
                           tamper: Callable[[Path], None]) -> str:
    """Register `tamper`ed copy of `version`'s files as a new version with the same tags; its number."""
    import mlflow

    client = mlflow_client(uri)
    original = client.get_model_version(name, version)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=client.get_model_version_download_uri(name, version),
                                                     dst_path=str(folder), tracking_uri=uri))
    tamper(local)
    return str(client.create_model_version(name, source=str(local), run_id=original.run_id,
                                           tags=dict(original.tags)).version)


# -- the changes ----------------------------------------------------------------------------------
def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def flip_a_byte_of(name: str) -> Callable[[Path], None]:
    return lambda model: flip_a_byte(model / name)


def swap_denial_labels(model: Path) -> None:
    """Swap the first two denial-reason labels in metadata.json: still valid JSON, other answers."""
    path = model / SAVED_MODEL / METADATA_FILE
    metadata = json.loads(path.read_text())
    labels = metadata["denial_classes"]
    labels[0], labels[1] = labels[1], labels[0]
    path.write_text(json.dumps(metadata, indent=2))


class _WritesMarker:
    """Unpickling this creates the marker file (what a planted pickle could do)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def plant_code(marker: Path) -> Callable[[Path], None]:
    """Replace the pickled pyfunc wrapper and the pyfunc_model.py the model carries, both creating
    `marker` if run."""
    def tamper(model: Path) -> None:
        (model / "python_model.pkl").write_bytes(pickle.dumps(_WritesMarker(marker)))
        code = model / "code" / "scoring"
        code.mkdir(parents=True, exist_ok=True)
        (code / "pyfunc_model.py").write_text(f"open({str(marker)!r}, 'w').close()\n")

    return tamper


def damage_model_file(model: Path) -> None:
    """Cut the skops file (a zip) in half: unreadable, not just different."""
    path = model / SAVED_MODEL / MODEL_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
