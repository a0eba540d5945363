"""A served model is known by what it is, not by its number: its registered name and version, the
run that trained it and the digest of its `model_manifest` tag. A version number repeats across
tracking stores (every store starts at 1), so whatever attributes served claims to a registered
version (the monitor, the outcomes report, the review, the service's model swap) first checks
that the audit rows' run and digest are that version's, and refuses, in one line, when they are not.

Audit rows written before the audit store recorded run and digest (its migration 0005) carry
neither: they are attributed by version number alone, as before, and the callers say so.
"""
from __future__ import annotations

from dataclasses import dataclass

from scoring.artifacts import MODEL_MANIFEST_TAG, manifest_digest
from scoring.mlflow_store import store_label

# What an audit row records of the model that answered it (service.answer_audit)
AUDIT_IDENTITY_KEYS = ("name", "version", "run_id", "manifest_sha256")
UNRECORDED_NOTE = ("served before the audit store recorded run and manifest: attributed by version number alone")


# Tags of a monitor or outcomes run: the identity its served claims recorded, for whoever reads
# the run back against a version (the review)
SERVED_RUN_TAG = "served_model_run_id"
SERVED_MANIFEST_TAG = "served_model_manifest_sha256"
UNRECORDED = "unrecorded"


class AttributionError(RuntimeError):
    """Served claims would be attributed to a version that is another model; the message is one line."""


@dataclass(frozen=True)
class Identity:
    run_id: str | None
    manifest_sha256: str | None

    @property
    def recorded(self) -> bool:
        """False for rows written before the audit store recorded identities."""
        return self.run_id is not None or self.manifest_sha256 is not None

    def differs_from(self, other: Identity) -> bool:
        """Another model: a different run, or a different manifest where both are known."""
        if self.run_id is not None and other.run_id is not None and self.run_id != other.run_id:
            return True
        return (self.manifest_sha256 is not None and other.manifest_sha256 is not None
                and self.manifest_sha256 != other.manifest_sha256)

    def describe(self) -> str:
        digest = (self.manifest_sha256 or "")[:12] or "unrecorded"
        return f"run {self.run_id or 'unrecorded'} (manifest {digest})"


def registered_identity(client, name: str, version: str) -> Identity | None:
    """The run and manifest digest of a registered version; None when the store lacks it."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(name, str(version))
    except MlflowException:
        return None
    return Identity(found.run_id, manifest_digest((found.tags or {}).get(MODEL_MANIFEST_TAG)))


def attribution_refusal(name, version, recorded, registered: Identity | None, where: str) -> str | None:
    """One line when an identity in `recorded` (the audit rows of `name` version `version`) is
    another model than `registered` (the version as `where`, "in store S", holds it); None when they agree, when
    the rows predate identities, or when `where` has no such version to compare with."""
    if registered is None:
        return None
    for identity in sorted(recorded, key=lambda found: (str(found.run_id), str(found.manifest_sha256))):
        if identity.recorded and identity.differs_from(registered):
            return (f"the audit rows of {name} version {version} were served by {identity.describe()}, but version "
                    f"{version} {where} is {registered.describe()}: another model with the same number")
    return None


def check_attribution(client, tracking_uri: str, name, version, recorded) -> None:
    """AttributionError when the audit rows' identities are not the registered version's (see
    attribution_refusal); the way out is the store that served them."""
    if name is None or version is None:
        return
    refusal = attribution_refusal(name, version, recorded, registered_identity(client, name, version),
                                  f"in store {store_label(tracking_uri)}")
    if refusal:
        raise AttributionError(f"{refusal}; use --tracking-uri of the store that served them")


def identity_tags(identities) -> dict[str, str]:
    """SERVED_RUN_TAG and SERVED_MANIFEST_TAG of the identities recorded (comma-separated, sorted),
    "unrecorded" where the rows predate identities."""
    recorded = [identity for identity in identities if identity.recorded]
    runs = sorted({identity.run_id for identity in recorded if identity.run_id})
    digests = sorted({identity.manifest_sha256 for identity in recorded if identity.manifest_sha256})
    return {SERVED_RUN_TAG: ",".join(runs) or UNRECORDED, SERVED_MANIFEST_TAG: ",".join(digests) or UNRECORDED}


def tagged_identities(tags: dict) -> set[Identity]:
    """The identities a run's SERVED_* tags name (empty for a run logged before them, or of
    unrecorded rows): the inverse of identity_tags, for a check_attribution of the run."""
    runs = [run for run in (tags.get(SERVED_RUN_TAG) or UNRECORDED).split(",") if run != UNRECORDED]
    digests = [digest for digest in (tags.get(SERVED_MANIFEST_TAG) or UNRECORDED).split(",") if digest != UNRECORDED]
    return {Identity(run, None) for run in runs} | {Identity(None, digest) for digest in digests}
