"""Fixtures of the CDS Hooks tests: the real app (with or without the session's champion) trusting
the test client's keys, a signer, and a FHIR server on loopback."""
from __future__ import annotations

import json

import pytest

from tests.service.cds_hooks.cds_testing import ALLOWED_JKU, ISSUER, OTHER_ISSUER, SERVICE_URL, ClientKeys, FhirServer


@pytest.fixture(scope="session")
def client_keys() -> ClientKeys:
    return ClientKeys()


@pytest.fixture
def cds_settings(tmp_path, client_keys) -> dict:
    jwks = tmp_path / "clients.jwks.json"
    jwks.write_text(json.dumps(client_keys.jwks()), encoding="utf-8")
    # OTHER_ISSUER is trusted but owns no key: the ES384 key names its issuer, the RS384 key serves both
    return {"CDS_CLIENT_ISSUERS": f"{ISSUER},{OTHER_ISSUER}", "CDS_JWKS_FILE": str(jwks),
            "CDS_JKU_ALLOWLIST": [ALLOWED_JKU], "CDS_SERVICE_URL": SERVICE_URL, "CDS_FHIR_TIMEOUT_SECONDS": 1}


@pytest.fixture
def cds_app(make_app, cds_settings):
    """The app trusting the test client, with no model (enough for everything before the answer)."""
    return make_app(**cds_settings)


@pytest.fixture
def cds_served_app(make_served_app, cds_settings):
    return make_served_app(**cds_settings)


@pytest.fixture
def hook_call(client_keys):
    """POST a hook call with a fresh signed JWT (or the headers given)."""

    def call(client, service_id: str, body: dict, headers: dict | None = None):
        path = f"/cds-services/{service_id}"
        if headers is None:
            headers = {"Authorization": f"Bearer {client_keys.token(path)}"}
        return client.post(path, json=body, headers=headers)

    return call


@pytest.fixture
def fhir_server():
    server = FhirServer()
    yield server
    server.stop()
