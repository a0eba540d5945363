"""What a training run records about where its model came from: the data file and its rows, the
code (git commit), the rules, ICD-10-CM and contract versions, and the libraries' versions."""
from __future__ import annotations

import subprocess
from importlib import metadata as package_metadata
from pathlib import Path

from common.paths import PROJECT_ROOT
from features.contract import CONTRACT_VERSION
from features.diagnosis import ICD10CM_RELEASE
from features.rules import load_rules

# Libraries whose versions are tagged on every run.
LIBRARIES = ("scikit-learn", "numpy", "pandas", "pyarrow", "skops", "mlflow", "scipy")


def git_commit() -> str:
    """HEAD of the project checkout, `+dirty` when tracked files differ; `unknown` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def library_versions(names=LIBRARIES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return versions


def provenance_tags(data_path: str | Path, data_sha256: str, row_counts: dict[str, int]) -> dict[str, str]:
    """Run tags: data file, row counts, code, rules and ICD-10-CM versions, library versions."""
    tags = {
        "data_file": Path(data_path).name,
        "data_sha256": data_sha256,
        "git_commit": git_commit(),
        "rules_version": load_rules().version,
        "icd10cm_release": ICD10CM_RELEASE,
        "contract_version": CONTRACT_VERSION,
    }
    tags.update({f"rows_{name}": str(count) for name, count in row_counts.items()})
    tags.update({f"lib_{name}": version for name, version in library_versions().items()})
    return tags
