"""CDS Hooks 2.0 security: a hook call is taken only with a fresh JWT its trusted client signed
(RS384 or ES384) for this service; everything else is a 401 naming the check, before the body is
read. A call that passes gets as far as the body (an empty one: 422)."""
from __future__ import annotations

import pytest

from service.app import create_app
from service.cds_hooks.client_jwt import ClientKeysError
from tests.service.cds_hooks.cds_testing import ALLOWED_JKU, ISSUER, OTHER_ISSUER, SERVICE_URL
from tests.service.service_testing import API_KEY

PATH = "/cds-services/medspa-coverage-order-sign"


def _post(app, headers):
    return app.test_client().post(PATH, json={}, headers=headers)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_a_fresh_token_of_a_trusted_client_reaches_the_body(cds_app, client_keys, alg):
    response = _post(cds_app, _bearer(client_keys.token(PATH, alg=alg)))
    assert response.status_code == 422, response.get_json()
    assert {error["field"] for error in response.get_json()["errors"]} == {"hook", "hookInstance", "context"}


def test_the_discovery_url_is_an_accepted_audience(cds_app, client_keys):
    assert _post(cds_app, _bearer(client_keys.token(PATH, audience=SERVICE_URL + "/cds-services"))).status_code == 422


@pytest.mark.parametrize("case, check", [
    ("bad signature", "signature"),
    ("wrong audience", "aud"),
    ("another endpoint's audience", "aud"),
    ("expired", "expired"),
    ("lives longer than five minutes", "ahead"),
    ("unknown issuer", "iss is not one of"),
    ("a trusted issuer signing with another issuer's key", "kid"),
    ("jku not allowed", "jku"),
    ("HS384 with the public key as secret", "alg"),
    ("no jti", "lacks"),
    ("unknown kid", "kid"),
])
def test_a_token_failing_a_check_is_refused_with_401_naming_it(cds_app, client_keys, case, check):
    token = {
        "bad signature": lambda: client_keys.token(PATH, key=client_keys.stranger),
        "wrong audience": lambda: client_keys.token(PATH, audience="https://elsewhere.example.org" + PATH),
        "another endpoint's audience": lambda: client_keys.token(PATH, audience=SERVICE_URL + "/v1/predict"),
        "expired": lambda: client_keys.token(PATH, issued_ago=600, lifetime=300),
        "lives longer than five minutes": lambda: client_keys.token(PATH, lifetime=3600),
        "unknown issuer": lambda: client_keys.token(PATH, issuer="https://unknown.example.org"),
        "a trusted issuer signing with another issuer's key": lambda: client_keys.token(PATH, alg="ES384",
                                                                                        issuer=OTHER_ISSUER),
        "jku not allowed": lambda: client_keys.token(PATH, extra_header={"jku": "https://evil.example.org/jwks"}),
        "HS384 with the public key as secret": lambda: _hs384_token(client_keys),
        "no jti": lambda: client_keys.token(PATH, drop=("jti",)),
        "unknown kid": lambda: client_keys.token(PATH, kid="rsa-9"),
    }[case]()
    response = _post(cds_app, _bearer(token))
    body = response.get_json()
    assert response.status_code == 401, body
    assert body["code"] == "invalid_client_token" and check in body["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert token not in response.get_data(as_text=True)


def _hs384_token(client_keys) -> str:
    import jwt

    return jwt.encode({"iss": ISSUER, "aud": SERVICE_URL + PATH, "iat": 0, "exp": 1, "jti": "x"}, "secret" * 8,
                      algorithm="HS384", headers={"kid": "rsa-1"})


def test_an_allowed_jku_is_taken_with_a_key_of_the_file(cds_app, client_keys):
    assert _post(cds_app, _bearer(client_keys.token(PATH, extra_header={"jku": ALLOWED_JKU}))).status_code == 422


def test_a_replayed_token_is_refused_by_every_worker_sharing_the_audit_store(make_app, cds_settings, client_keys,
                                                                             tmp_path):
    shared = f"sqlite:///{tmp_path / 'shared-audit.db'}"
    first, second = (make_app(**cds_settings, AUDIT_DATABASE_URL=shared) for _ in range(2))
    token = client_keys.token(PATH)
    assert _post(first, _bearer(token)).status_code == 422
    for app in (first, second):
        replay = _post(app, _bearer(token))
        assert replay.status_code == 401 and "replay" in replay.get_json()["message"]


def test_api_keys_are_not_accepted_on_hook_calls(cds_app):
    for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}, {}):
        assert _post(cds_app, headers).status_code == 401


def test_no_trusted_issuer_configured_refuses_every_call(make_app, client_keys):
    assert _post(make_app(), _bearer(client_keys.token(PATH))).status_code == 401


def test_a_jwks_file_with_a_private_key_stops_the_start(tmp_path, client_keys):
    import json

    from jwt.algorithms import RSAAlgorithm

    path = tmp_path / "bad.jwks.json"
    path.write_text(json.dumps({"keys": [{**RSAAlgorithm.to_jwk(client_keys.rsa, as_dict=True), "kid": "k"}]}))
    with pytest.raises(ClientKeysError, match="private key"):
        create_app({"TESTING": True, "CDS_JWKS_FILE": str(path), "MODEL_POLL_SECONDS": 0,
                    "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                    "TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"})
