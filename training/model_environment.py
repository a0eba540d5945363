"""What a logged model carries so that it runs where this repository is not installed (a fresh
virtual environment, `mlflow models serve --env-manager uv`, `mlflow.pyfunc.spark_udf` on a
cluster): our own code as MLflow `code_paths`, and the pinned requirements that code imports.

The code that travels is the pyfunc wrapper's import closure and nothing of the stages:

- `features` (the domain, with its data files: contract, catalog, rules, ICD-10-CM tables);
- `training.model` (the CoverageModel the wrapper loads);
- `training.data` (the request checks the wrapper applies, the same ones the local engine uses);
- `training/__init__.py` and `training/pyfunc_model.py` (the wrapper itself).

MLflow copies each into the model's `code/` folder and puts that folder first on `sys.path` when
the model is loaded. Every file of it is in the version's `model_manifest` like any other file of
the model, so a changed code file is refused by our loaders (training.model.artifacts).
"""
from __future__ import annotations

import shutil
from importlib import metadata as package_metadata
from pathlib import Path

import features
import training

# (package, sub-folder) pairs copied whole, and single modules of `training` copied alone.
SHIPPED_PACKAGES = ("features", "training/model", "training/data")
SHIPPED_MODULES = ("training/__init__.py", "training/pyfunc_model.py")
# The distributions the shipped code imports (directly, or for the model's numbers: scipy and
# joblib under scikit-learn, llvmlite under numba), pinned to the versions installed here, which
# are requirements.lock's.
SERVING_LIBRARIES = ("mlflow", "scikit-learn", "scipy", "joblib", "numpy", "pandas", "pyarrow", "skops",
                     "numba", "llvmlite", "threadpoolctl")


def source_roots() -> dict[str, Path]:
    """Where our top-level packages are installed (a checkout or site-packages alike)."""
    return {"features": Path(features.__file__).parent, "training": Path(training.__file__).parent}


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
    """Copy the shipped code into `into` laid out as packages; the `code_paths` to log (one per
    top-level package, so MLflow's `code/` holds `features/` and `training/`)."""
    roots = source_roots()
    for relative in (*SHIPPED_PACKAGES, *SHIPPED_MODULES):
        top, _, rest = relative.partition("/")
        source = roots[top] / rest if rest else roots[top]
        _copy_ignoring_caches(source, into / relative)
    return [str(into / top) for top in sorted(roots)]
