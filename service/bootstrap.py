"""`make serve` on a fresh machine (`medspa-coverage bootstrap`): make sure there is something to
serve and a key to call it with, then start the service.

1. `ensure_champion`: when the tracking store has no `champion` (or one registered before model
   manifests, which no loader serves), generate the demo history
   (var/demo/claims.parquet, DEMO_ROWS claims; kept and reused if it is already there) and train and
   register a model from it with the train stage function (training.train.run_training), which
   promotes it (there is no champion to beat) and exports the bundle. Both show progress, and
   the training's time is estimated first from the machine's cores and load.
   DEMO_ROWS is 100,000, half the benchmarks' history: a fresh clone answers within three
   minutes, install included (issue 27); the demo champion says so, and `medspa-coverage train`
   on a larger history replaces it.
2. `ensure_dev_key`: when no API key is configured (`MEDSPA_COVERAGE_API_KEYS`,
   `..._API_KEY_HASHES` or `..._API_KEY_HASHES_FILE`) and no dev key was made before, make a random
   one, store only its sha256 in var/dev-api-key.sha256 and return the key, to be printed once.
   The service reads that file through the `API_KEY_HASHES_FILE` setting, which the bootstrap
   command sets. Lost the key? Delete the file and run `make serve` again.

`prepare_service` does both and returns the environment the service needs on top of the current
one: the same tracking store (explicitly: MLflow's `set_tracking_uri`, which training calls,
rewrites MLFLOW_TRACKING_URI in this process, so the variable is restored here too) and the
dev key's hash file.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable

from service.address import DEFAULT_BIND, base_url
from service.settings import hash_key
from training.demo.generator import generate_history
from scoring.artifacts import MODEL_MANIFEST_TAG, version_for_alias
from common.paths import PROJECT_ROOT
from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, resolve_tracking_uri, tracking
from common.private_files import make_private_dir
from training.train import run_training

DEMO_HISTORY = PROJECT_ROOT / "var" / "demo" / "claims.parquet"
DEMO_ROWS = 100_000  # see the module docstring: the first start's time
DEMO_SEED = 20260302
# Seconds the demo champion's training (DEMO_ROWS claims, end to end) takes on a quiet 2-core
# machine (README "Performance"); to be measured quiet with
# `python -m benchmarks train --rows 100000 --world-rows 0`. The estimate scales it by the load.
QUIET_TRAINING_SECONDS = 35
QUIET_CORES = 2
DEV_KEY_HASH_FILE = PROJECT_ROOT / "var" / "dev-api-key.sha256"
KEY_SETTINGS = ("MEDSPA_COVERAGE_API_KEYS", "MEDSPA_COVERAGE_API_KEY_HASHES", "MEDSPA_COVERAGE_API_KEY_HASHES_FILE")


def ensure_champion(tracking_uri: str | None = None, history_path: str | Path | None = None, rows: int = DEMO_ROWS,
                    seed: int = DEMO_SEED, params=None, models_dir=None, progress: bool = True,
                    echo: Callable[[str], None] = print) -> tuple[str, bool]:
    """(the champion's version, whether it was trained now); see the module docstring."""
    uri = resolve_tracking_uri(tracking_uri)
    with tracking(uri) as client:
        champion = version_for_alias(client, REGISTERED_MODEL, CHAMPION, missing_ok=True)
    if champion is not None and MODEL_MANIFEST_TAG in (champion.tags or {}):
        echo(f"champion: {REGISTERED_MODEL} version {champion.version} (no training needed)")
        return str(champion.version), False

    history_path = Path(history_path or DEMO_HISTORY)
    if champion is not None:  # registered before the manifests: no loader would serve it
        echo(f"champion version {champion.version} has no {MODEL_MANIFEST_TAG} tag, so it cannot be verified; "
             "training a new one")
    elif history_path.is_file():
        echo(f"no champion yet; training on the demo history already at {history_path}")
    else:
        echo(f"no champion yet; generating {rows:,} demo claims into {history_path}")
        history_path.parent.mkdir(parents=True, exist_ok=True)
        summary = generate_history(rows, seed, history_path, progress=progress)
        echo(summary.format())
    echo(training_estimate(rows))
    result = run_training(history_path, tracking_uri=uri, params=params, models_dir=models_dir, progress=progress,
                          echo=echo)
    if not result.promoted:
        raise RuntimeError(f"version {result.model_version} was registered but not promoted: {result.reason}")
    return result.model_version, True


def training_estimate(rows: int, cores: int | None = None, load: float | None = None) -> str:
    """What the demo champion's training will take here: the quiet figure, scaled by the cores and
    by the runnable processes the load average counts beside this one."""
    cores = cores or os.cpu_count() or 1
    load = os.getloadavg()[0] if load is None else load
    quiet = QUIET_TRAINING_SECONDS * rows / DEMO_ROWS * QUIET_CORES / min(cores, QUIET_CORES)
    shared = max(1.0, (load + 1) / cores)  # each process's share of a core once others want them
    return (f"training the demo champion on {rows:,} claims: about {quiet:.0f} s on a quiet machine with these "
            f"{cores} cores; with the load now ({load:.1f}) about {quiet * shared:.0f} s")


def keys_configured(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return any(environ.get(name, "").strip() for name in KEY_SETTINGS)


def ensure_dev_key(hash_file: str | Path | None = None, environ=None) -> str | None:
    """A new dev key (returned once; only its sha256 is stored in `hash_file`, default
    DEV_KEY_HASH_FILE), or None when keys are configured or a dev key was made before."""
    hash_file = Path(hash_file or DEV_KEY_HASH_FILE)
    if keys_configured(environ) or (hash_file.is_file() and hash_file.read_text().strip()):
        return None
    key = secrets.token_urlsafe(32)
    make_private_dir(hash_file.parent)
    with tempfile.NamedTemporaryFile("w", dir=hash_file.parent, prefix=".dev-key-", delete=False) as handle:
        handle.write(hash_key(key) + "\n")
    os.replace(handle.name, hash_file)  # mkstemp's owner-only mode stays: the hash is nobody else's business
    return key


def service_environment(tracking_uri: str, hash_file: str | Path | None = None, environ=None) -> dict[str, str]:
    """The variables the service needs on top of `environ`: the tracking store, the dev key's hash file."""
    hash_file = Path(hash_file or DEV_KEY_HASH_FILE)
    environ = os.environ if environ is None else environ
    variables = {"MEDSPA_COVERAGE_TRACKING_URI": tracking_uri}
    if not environ.get("MEDSPA_COVERAGE_API_KEY_HASHES_FILE") and hash_file.is_file():
        variables["MEDSPA_COVERAGE_API_KEY_HASHES_FILE"] = str(hash_file)
    return variables


def prepare_service(tracking_uri: str | None = None, echo: Callable[[str], None] = print,
                    url: str = base_url(DEFAULT_BIND)) -> dict[str, str]:
    """A champion and a key (printed once when new); returns the service's extra environment."""
    uri = resolve_tracking_uri(tracking_uri)
    mlflow_variable = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        ensure_champion(uri, echo=echo)
    finally:
        if mlflow_variable is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = mlflow_variable
    key = ensure_dev_key()
    if key:
        echo(f"\ndev API key (shown once; only its sha256 is kept, in {DEV_KEY_HASH_FILE}):\n\n    {key}\n\n"
             f"    curl -H 'Authorization: Bearer {key}' {url}/v1/model\n\n"
             f"A lost key cannot be shown again: delete {DEV_KEY_HASH_FILE} and run `make serve` again for a "
             "new one (the old key stops working).\n")
    return service_environment(uri)
