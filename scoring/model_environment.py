"""What a logged model carries so that it runs where this repository is not installed (a fresh
virtual environment, `mlflow models serve --env-manager uv`, `mlflow.pyfunc.spark_udf` on a
cluster): our own code as MLflow `code_paths`, and the pinned requirements that code imports.

The code that travels is the served model's rooms and nothing of training:

- `common` (project paths, private files);
- `features` (the domain, with its data files: contract, catalog, rules, ICD-10-CM tables);
- `claims_io` (the request checks the wrapper applies, the same ones the local engine uses);
- `scoring` (the CoverageModel, and the pyfunc wrapper that loads it).

MLflow copies each into the model's `code/` folder and puts that folder first on `sys.path` when
the model is loaded. Every file of it is in the version's `model_manifest` like any other file of
the model, so a changed code file is refused by our loaders (scoring.artifacts).
"""
from __future__ import annotations

import shutil
from importlib import metadata as package_metadata
from pathlib import Path

import claims_io
import common
import features
import scoring

# The top-level packages copied whole (tests/test_layers.py keeps them free of `training` imports).
SHIPPED_PACKAGES = {package.__name__: package for package in (common, features, claims_io, scoring)}
# The distributions the shipped code imports (directly, or for the model's numbers: scipy and
# joblib under scikit-learn, llvmlite under numba), pinned to the versions installed here, which
# are requirements.lock's.
SERVING_LIBRARIES = ("mlflow", "scikit-learn", "scipy", "joblib", "numpy", "pandas", "pyarrow", "skops",
                     "numba", "llvmlite", "threadpoolctl", "PyYAML")


def source_roots() -> dict[str, Path]:
    """Where our top-level packages are installed (a checkout or site-packages alike)."""
    return {name: Path(package.__file__).parent for name, package in SHIPPED_PACKAGES.items()}


def serving_requirements() -> list[str]:
    """`name==version` for every SERVING_LIBRARIES distribution: the model's requirements.txt."""
    return [f"{name}=={package_metadata.version(name)}" for name in SERVING_LIBRARIES]


def _copy_ignoring_caches(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def stage_code(into: Path) -> list[str]:
    """Copy the shipped packages into `into`; the `code_paths` to log (one per top-level package,
    so MLflow's `code/` holds `common/`, `features/`, `claims_io/` and `scoring/`)."""
    roots = source_roots()
    for name, source in roots.items():
        _copy_ignoring_caches(source, into / name)
    return [str(into / name) for name in sorted(roots)]
