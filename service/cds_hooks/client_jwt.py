"""CDS Hooks 2.0 client authentication: every hook call carries a JWT its client signed.

Checked before the body is read, in this order, each failure a 401 naming the check (never the
token or its claims): a Bearer token; header `alg` RS384 or ES384 and a `kid`; a `jku`, when the
header names one, on CDS_JKU_ALLOWLIST (the service never fetches it: the operator puts that set's
keys in CDS_JWKS_FILE); `iss` one of CDS_CLIENT_ISSUERS; the signature by the key of that `kid` in
CDS_JWKS_FILE (a key there with an `iss` member serves that issuer only); `aud` this endpoint's URL
(CDS_SERVICE_URL + the path; the discovery URL is accepted too); `exp`, `iat` and `jti` present,
`exp` not passed and at most TOKEN_MAX_LIFETIME_SECONDS ahead; the `jti` not seen before from this
issuer. Seen `jti`s are kept in the audit database (table `cds_hook_jtis`), which every worker and
host shares, as the rate limit's buckets are (service.rate_limit), until their token expires.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from flask import current_app, request
from sqlalchemy import Column, Float, Index, String, Table, delete, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from service.audit import metadata
from service.errors import APIError

ALGORITHMS = ("RS384", "ES384")  # CDS Hooks 2.0: the client signs with one of these
TOKEN_MAX_LIFETIME_SECONDS = 300  # CDS Hooks 2.0: exp no more than 5 minutes in the future
LEEWAY_SECONDS = 30  # clock difference tolerated between client and service
DISCOVERY_PATH = "/cds-services"

cds_hook_jtis = Table(
    "cds_hook_jtis",
    metadata,
    Column("jti_key", String(64), primary_key=True),  # sha256 of issuer and jti: bounded, and no token text kept
    Column("expires_at", Float, nullable=False),  # unix seconds: the row may go once the token is expired
)
Index("ix_cds_hook_jtis_expires_at", cds_hook_jtis.c.expires_at)


class ClientKeysError(ValueError):
    """CDS_JWKS_FILE cannot be used; the message names the setting, never a key."""


@dataclass(frozen=True)
class ClientKey:
    kid: str
    key: object  # a cryptography public key
    algorithm: str | None  # the JWK's `alg`, when it names one
    issuer: str | None  # the JWK's `iss` member: this issuer's key only


def load_client_keys(path) -> dict[str, ClientKey]:
    """The public keys of the JWKS file by `kid` (empty without a file); ClientKeysError when it is unusable."""
    if not path:
        return {}
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = document["keys"]
        keys = {}
        for entry in entries:
            if "d" in entry:  # a private key in a file of trusted public keys is a mistake worth stopping for
                raise ClientKeysError("CDS_JWKS_FILE: holds a private key; keep only the clients' public keys")
            parsed = jwt.PyJWK.from_dict(entry)
            if not entry.get("kid"):
                raise ClientKeysError("CDS_JWKS_FILE: every key needs a `kid`")
            keys[entry["kid"]] = ClientKey(entry["kid"], parsed.key, entry.get("alg"), entry.get("iss"))
    except ClientKeysError:
        raise
    except (OSError, ValueError, KeyError, TypeError, jwt.PyJWTError) as error:
        raise ClientKeysError(f"CDS_JWKS_FILE: not a JWKS file of RSA or EC public keys ({type(error).__name__})") \
            from None
    return keys


class JtiLedger:
    """The `jti`s seen, in the shared audit database."""

    def __init__(self, engine: Engine, clock=time.time):
        self.engine = engine
        self._clock = clock

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record the jti; False when it was recorded before (a replay)."""
        key = hashlib.sha256(f"{issuer}\x00{jti}".encode("utf-8")).hexdigest()
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(cds_hook_jtis).where(
                    cds_hook_jtis.c.expires_at < self._clock() - LEEWAY_SECONDS))
                connection.execute(insert(cds_hook_jtis).values(jti_key=key, expires_at=float(expires_at)))
        except IntegrityError:
            return False
        return True


def _refuse(check: str) -> APIError:
    return APIError(401, "invalid_client_token",
                    f"the CDS client's JWT is refused: {check} (CDS Hooks 2.0: a JWT signed with RS384 or ES384 by "
                    "a trusted issuer, in 'Authorization: Bearer <jwt>')",
                    headers={"WWW-Authenticate": 'Bearer realm="cds-services", error="invalid_token"'})


def expected_audiences() -> set[str]:
    """This endpoint's URL, and the discovery URL, under CDS_SERVICE_URL (else the host the request named)."""
    base = (current_app.config["CDS_SERVICE_URL"] or request.host_url).rstrip("/")
    return {base + request.path, base + DISCOVERY_PATH}


def verify_client_token() -> str:
    """The verified issuer of the request's JWT; APIError 401 otherwise (see the module docstring)."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refuse("no 'Authorization: Bearer <jwt>' header")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse("not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise _refuse(f"alg must be one of {', '.join(ALGORITHMS)}")
    config = current_app.config
    if "jku" in header and header["jku"] not in config["CDS_JKU_ALLOWLIST"]:
        raise _refuse("its jku is not on CDS_JKU_ALLOWLIST")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in config["CDS_CLIENT_ISSUERS"]:
        raise _refuse("iss is not one of CDS_CLIENT_ISSUERS")
    client_key = current_app.extensions["cds_client_keys"].get(header.get("kid") or "")
    if client_key is None or client_key.issuer not in (None, issuer) \
            or client_key.algorithm not in (None, header["alg"]):
        raise _refuse("no key of this issuer in CDS_JWKS_FILE has its kid and alg")
    try:
        claims = jwt.decode(token, client_key.key, algorithms=[header["alg"]], audience=expected_audiences(),
                            issuer=issuer, leeway=LEEWAY_SECONDS,
                            options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.InvalidSignatureError:
        raise _refuse("the signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise _refuse("aud is not this service's URL") from None
    except jwt.ExpiredSignatureError:
        raise _refuse("it has expired (exp)") from None
    except jwt.MissingRequiredClaimError:
        raise _refuse("it lacks one of iss, aud, exp, iat, jti") from None
    except jwt.PyJWTError:
        raise _refuse("its claims are not valid (iat, exp)") from None
    now = time.time()
    if claims["exp"] > now + TOKEN_MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise _refuse(f"exp is more than {TOKEN_MAX_LIFETIME_SECONDS} s ahead")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise _refuse("jti must be a non-empty string")
    if not current_app.extensions["cds_jti_ledger"].first_use(issuer, claims["jti"], claims["exp"]):
        raise _refuse("its jti was used before (a replay)")
    return issuer
