"""Service settings: defaults, then environment (`MEDSPA_COVERAGE_<NAME>`), then test overrides.

Environment values are parsed as JSON where they parse (`0.5`, `true`, `["a", "b"]`) and taken
as strings otherwise. This table is the one place every setting is listed.

| setting | meaning | default |
|---|---|---|
| `API_KEY_HASHES` | sha256 hex digests of the accepted API keys (a list, or one comma-separated string) | `[]`: every /v1 request gets 401 |
| `API_KEY_HASHES_FILE` | a file of more sha256 key digests, one per line (`make serve` points it at `var/dev-api-key.sha256`, the hash of the dev key it printed); read at startup | unset |
| `API_KEYS` | plain keys for tests and tools (env `MEDSPA_COVERAGE_API_KEYS`, comma-separated or a JSON list); hashed into `API_KEY_HASHES` at startup and removed from the config | unset |
| `RATE_LIMIT_PER_MINUTE` | requests per API key per minute, one budget for all workers (a token bucket kept in the audit database; 429 + `Retry-After` when empty); `0` turns it off | `6000` |
| `RATE_LIMIT_CLAIMS_PER_MINUTE` | claims per API key per minute, all workers together (a batch counts each claim; a batch may overdraw it once, then the key waits until it refills); `0` turns it off | `60000` |
| `MAX_CONTENT_LENGTH` | largest request body in bytes (Flask's own setting; 413 above it) | `2097152` (2 MiB) |
| `MAX_BATCH_CLAIMS` | most claims in one `{"claims": [...]}` request or one `/invocations` frame | `1000` |
| `FAILED_KEY_LIMIT` | requests with a missing or wrong API key one client address may make within `FAILED_KEY_WINDOW_SECONDS` with keys that start alike (the first 2 characters; a missing key is one prefix); past it every request from that address with such a key gets 429 + `Retry-After` until the oldest failure leaves the window, before any key is compared (per worker process), while a right key that starts otherwise is still served; `0` turns it off | `20` |
| `FAILED_KEY_WINDOW_SECONDS` | the sliding window of `FAILED_KEY_LIMIT`, in seconds | `60` |
| `FORWARDED_FOR_HOPS` | how many proxies in front of gunicorn set `X-Forwarded-For`: the client's address (used to throttle failed API keys) is read from there instead of the socket; `medspa-coverage serve` sets 1, for its nginx; leave 0 when gunicorn faces clients, or anyone could choose their address | `0` |
| `LIKELY_APPROVED_THRESHOLD` | approval probability at or above which the decision is `likely_approved` | `0.7` |
| `LIKELY_DENIED_THRESHOLD` | approval probability below which the decision is `likely_denied` | `0.3` |
| `MODEL_SOURCE` | where the model comes from: `registry` (the version `MODEL_ALIAS` points to in `TRACKING_URI`; every file of it is checked against the version's `model_manifest` tag, recorded by `train` at registration: a changed, missing or extra file, or no tag, refuses it; the model file's sha256 is shown in `/v1/model`) or `bundle` (`MODEL_BUNDLE_PATH`, verified against its SHA256SUMS; a tampered bundle is refused) | `registry` |
| `MODEL_NAME` | registered model name | `medspa-coverage` |
| `MODEL_ALIAS` | registry alias served | `champion` |
| `MODEL_BUNDLE_PATH` | exported bundle directory, or the models folder whose `champion` link names one, used when `MODEL_SOURCE=bundle` | `<project>/models` |
| `MODEL_LOADER` | `"module:function"` (or, in tests, a callable) that takes the app config and returns the served model (see `service.model_extension`); the default loads from `MODEL_SOURCE` | `service.model_loading:configured_loader` |
| `MODEL_POLL_SECONDS` | how often a background thread checks whether the alias (or the bundle's `champion` link) moved, and loads, warms up and swaps in the new model when it did; also retries while no model is loaded (0 = never) | `30` |
| `TRACKING_URI` | MLflow tracking/registry URI | env `MLFLOW_TRACKING_URI`, else `sqlite:///<project>/var/mlflow.db` |
| `AUDIT_DATABASE_URL` | SQLAlchemy URL of the audit store (one row per answered claim) | `sqlite:///<project>/var/audit.db` |
| `AUDIT_MIN_FREE_MB` | free space (MiB) a SQLite audit store's disk must have for `/healthz/ready` to answer 200 (beside a probe write that must succeed); below it the worker is not ready and the log says why | `256` |
| `AUDIT_RETENTION_DAYS` | audit rows older than this many days (served claims by when they were served, their outcomes by when they were ingested) are deleted by a background job (hourly, one worker at a time) and a SQLite store gives the space back (incremental auto-vacuum; an older store is VACUUMed once); six years by default, HIPAA's retention of required documentation (45 CFR 164.316(b)(2)); `0` keeps every row | `2190` |
| `AUDIT_SQLITE_SYNCHRONOUS` | SQLite `synchronous` pragma of the audit store (WAL mode): `NORMAL` survives kill -9, `FULL` also power loss | `NORMAL` |
| `DOCS_ENABLED` | serve `GET /openapi.json` and `GET /docs`; the gunicorn config turns it off (production) unless set | `true` |
| `MONITOR_INTERVAL_MINUTES` | run the serving monitor (`medspa-coverage monitor`) from a background thread for each finished window of this many minutes, logging a run of the `serving-monitor` experiment in `TRACKING_URI`; one worker per window does it (0 = off) | `0` |
| `LOG_LEVEL` | level of the service's JSON operational log | `INFO` |
| `FILE_MAX_BYTES` | largest claims file `POST /v1/files` takes, in bytes (413 `file_too_large` above it; nginx's limit for that route follows it) | `16777216` (16 MiB) |
| `FILE_MAX_ROWS` | most data rows in one uploaded claims file (413 `file_too_large` above it); larger files go through `medspa-coverage predict` | `100000` |
| `FILE_MAX_DECODED_BYTES` | most bytes an uploaded claims file may decode to (decompressed, text expanded from dictionaries): a compressed Parquet file can hold far more than its size; checked from the file's metadata and then while it is read (413 `file_too_large` above it) | `67108864` (64 MiB) |
| `FILE_KEEP_MINUTES` | an uploaded file's job, its scored file and its rejected rows are deleted this many minutes after the upload, downloaded or not (each file is deleted at once after its one download) | `60` |
| `FILE_JOBS_DIR` | where uploaded files, their scored files and the jobs' state are kept (owner-only; every worker of the machine reads the same folder) | `<project>/var/file-jobs` |
| `SESSION_SECRET` | the key that signs the page's session cookies and CSRF tokens (at least 32 characters); the gunicorn config draws one at start for all its workers, so a restart signs everyone out | unset: a random one per process |
| `SESSION_MINUTES` | how long a sign-in on the page lasts, from the sign-in | `480` |
| `CDS_CLIENT_ISSUERS` | the CDS Hooks clients (EHRs) trusted to call `/cds-services`: their JWTs' `iss` values (a list, or one comma-separated string) | `[]`: every hook call gets 401 |
| `CDS_JWKS_FILE` | a JWKS file (`{"keys": [...]}`) of those clients' public keys (RS384 or ES384), found by `kid`; a key with an `iss` member serves that issuer only; read at startup | unset |
| `CDS_JKU_ALLOWLIST` | `jku` URLs a client's JWT header may name (a list, or comma-separated); the service never fetches them (their keys go in `CDS_JWKS_FILE`), and a token naming another `jku` is refused | `[]` |
| `CDS_SERVICE_URL` | the service's public base URL (`https://coverage.example.org`): a hook call's JWT `aud` must be `<this>/cds-services/<id>` (or `<this>/cds-services`) | unset: the scheme and host the request named |
| `CDS_FHIR_TIMEOUT_SECONDS` | how long one read from a hook caller's `fhirServer` may take (connect, then each wait for data), in seconds | `5` |
"""
from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

from common.paths import PROJECT_ROOT
from scoring.mlflow_store import CHAMPION, REGISTERED_MODEL, resolve_tracking_uri
from scoring.params import ModelParams

ENV_PREFIX = "MEDSPA_COVERAGE"
MODEL_SOURCES = ("registry", "bundle")
_HASH_SHAPE = re.compile(r"^[0-9a-f]{64}$")


class SettingsError(ValueError):
    """A setting has a value the service cannot run with; the message names the setting."""


def default_settings() -> dict:
    """The defaults of the table above (computed when called: the environment may change)."""
    return {
        "API_KEY_HASHES": [],
        "API_KEY_HASHES_FILE": None,
        "RATE_LIMIT_PER_MINUTE": 6000,
        "RATE_LIMIT_CLAIMS_PER_MINUTE": 60000,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "MAX_BATCH_CLAIMS": 1000,
        "FAILED_KEY_LIMIT": 20,
        "FAILED_KEY_WINDOW_SECONDS": 60,
        "FORWARDED_FOR_HOPS": 0,
        "LIKELY_APPROVED_THRESHOLD": ModelParams.likely_approved_threshold,
        "LIKELY_DENIED_THRESHOLD": ModelParams.likely_denied_threshold,
        "MODEL_SOURCE": "registry",
        "MODEL_NAME": REGISTERED_MODEL,
        "MODEL_ALIAS": CHAMPION,
        "MODEL_BUNDLE_PATH": str(PROJECT_ROOT / "models"),
        "MODEL_LOADER": "service.model_loading:configured_loader",
        "MODEL_POLL_SECONDS": 30,
        "TRACKING_URI": resolve_tracking_uri(),
        "AUDIT_DATABASE_URL": f"sqlite:///{PROJECT_ROOT / 'var' / 'audit.db'}",
        "AUDIT_MIN_FREE_MB": 256,
        "AUDIT_RETENTION_DAYS": 2190,
        "AUDIT_SQLITE_SYNCHRONOUS": "NORMAL",
        "DOCS_ENABLED": True,
        "MONITOR_INTERVAL_MINUTES": 0,
        "LOG_LEVEL": "INFO",
        "FILE_MAX_BYTES": 16 * 1024 * 1024,
        "FILE_MAX_ROWS": 100_000,
        "FILE_MAX_DECODED_BYTES": 64 * 1024 * 1024,
        "FILE_KEEP_MINUTES": 60,
        "FILE_JOBS_DIR": str(PROJECT_ROOT / "var" / "file-jobs"),
        "SESSION_SECRET": None,
        "SESSION_MINUTES": 480,
        "CDS_CLIENT_ISSUERS": [],
        "CDS_JWKS_FILE": None,
        "CDS_JKU_ALLOWLIST": [],
        "CDS_SERVICE_URL": None,
        "CDS_FHIR_TIMEOUT_SECONDS": 5,
    }


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _hashes_from_file(path) -> list[str]:
    if not path:
        return []
    try:
        lines = Path(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"API_KEY_HASHES_FILE: cannot be read ({type(error).__name__})") from None
    hashes = [line.strip().lower() for line in lines if line.strip()]
    bad = [number for number, value in enumerate(hashes, 1) if not _HASH_SHAPE.match(value)]
    if bad:
        raise SettingsError(f"API_KEY_HASHES_FILE: entries {bad} (counting from 1) are not sha256 hex digests "
                            "(64 hex characters)")
    return hashes


def finish_settings(config) -> None:
    """Hash plain keys, normalise lists and check every setting; raise SettingsError."""
    plain = _as_list(config.pop("API_KEYS", None))
    hashes = [value.lower() for value in _as_list(config.get("API_KEY_HASHES"))]
    bad = [position for position, value in enumerate(hashes) if not _HASH_SHAPE.match(value)]
    if bad:
        raise SettingsError(f"API_KEY_HASHES: entries {bad} are not sha256 hex digests (64 hex characters)")
    hashes += _hashes_from_file(config.get("API_KEY_HASHES_FILE"))
    config["API_KEY_HASHES"] = sorted(set(hashes) | {hash_key(key) for key in plain})

    for name, low in (("RATE_LIMIT_PER_MINUTE", 0), ("RATE_LIMIT_CLAIMS_PER_MINUTE", 0), ("MAX_CONTENT_LENGTH", 1),
                      ("MAX_BATCH_CLAIMS", 1), ("FORWARDED_FOR_HOPS", 0), ("FAILED_KEY_LIMIT", 0),
                      ("FAILED_KEY_WINDOW_SECONDS", 1), ("MODEL_POLL_SECONDS", 0), ("MONITOR_INTERVAL_MINUTES", 0),
                      ("AUDIT_MIN_FREE_MB", 0), ("AUDIT_RETENTION_DAYS", 0),
                      ("SESSION_MINUTES", 1), ("FILE_MAX_BYTES", 1), ("FILE_MAX_ROWS", 1),
                      ("FILE_MAX_DECODED_BYTES", 1), ("FILE_KEEP_MINUTES", 1)):
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SettingsError(f"{name}: must be an integer >= {low}")
    approved, denied = config.get("LIKELY_APPROVED_THRESHOLD"), config.get("LIKELY_DENIED_THRESHOLD")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (approved, denied)) \
            or not 0.0 <= denied <= approved <= 1.0:
        raise SettingsError("LIKELY_DENIED_THRESHOLD and LIKELY_APPROVED_THRESHOLD: numbers with "
                            "0 <= denied <= approved <= 1")
    if config.get("MODEL_SOURCE") not in MODEL_SOURCES:
        raise SettingsError(f"MODEL_SOURCE: must be one of {', '.join(MODEL_SOURCES)}")
    if not isinstance(config.get("DOCS_ENABLED"), bool):
        raise SettingsError("DOCS_ENABLED: must be true or false")
    if str(config.get("AUDIT_SQLITE_SYNCHRONOUS")).upper() not in ("NORMAL", "FULL", "EXTRA"):
        raise SettingsError("AUDIT_SQLITE_SYNCHRONOUS: must be NORMAL, FULL or EXTRA")
    config["AUDIT_SQLITE_SYNCHRONOUS"] = str(config["AUDIT_SQLITE_SYNCHRONOUS"]).upper()
    for name in ("CDS_CLIENT_ISSUERS", "CDS_JKU_ALLOWLIST"):
        config[name] = _as_list(config.get(name))
    timeout = config.get("CDS_FHIR_TIMEOUT_SECONDS")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        raise SettingsError("CDS_FHIR_TIMEOUT_SECONDS: must be a number of seconds above 0, at most 60")
    service_url = config.get("CDS_SERVICE_URL")
    if service_url is not None and not (isinstance(service_url, str) and re.match(r"^https?://[^/\s]+(/\S*)?$",
                                                                                   service_url)):
        raise SettingsError("CDS_SERVICE_URL: must be the service's base URL, such as https://coverage.example.org")
    if config.get("SESSION_SECRET") is None:
        config["SESSION_SECRET"] = secrets.token_urlsafe(32)  # sessions then live in this process only
    if not isinstance(config["SESSION_SECRET"], str) or len(config["SESSION_SECRET"]) < 32:
        raise SettingsError("SESSION_SECRET: must be a string of at least 32 characters")
