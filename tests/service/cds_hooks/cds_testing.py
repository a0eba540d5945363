"""What the CDS Hooks tests share: client keys and their JWKS, a signer of client JWTs, a small
FHIR server of our own on 127.0.0.1, and the Inferno fixtures."""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://ehr.example.org"
OTHER_ISSUER = "https://other-ehr.example.org"
SERVICE_URL = "https://coverage.example.org"
ALLOWED_JKU = "https://ehr.example.org/.well-known/jwks.json"
FHIR_TOKEN = "fhir-access-token-5e1c9a"  # must never reach a log, an answer or the audit store
INFERNO = Path(__file__).resolve().parent / "inferno"


class ClientKeys:
    """An RS384 and an ES384 key pair of the trusted client, and a key nobody trusts."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP384R1())
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict:
        rsa_jwk = {**RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True), "kid": "rsa-1", "alg": "RS384",
                   "use": "sig"}
        ec_jwk = {**ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True), "kid": "ec-1", "alg": "ES384",
                  "use": "sig", "iss": ISSUER}
        return {"keys": [rsa_jwk, ec_jwk]}

    def token(self, path: str, *, alg="RS384", kid=None, key=None, issuer=ISSUER, audience=None, lifetime=240,
              issued_ago=0, jti=None, extra_header=None, drop=()) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "sub": "ehr-client", "aud": audience or SERVICE_URL + path, "iat": now - issued_ago,
                  "exp": now - issued_ago + lifetime, "jti": jti or uuid.uuid4().hex}
        for name in drop:
            claims.pop(name)
        signing_key = key or (self.rsa if alg == "RS384" else self.ec)
        headers = {"kid": kid or ("rsa-1" if alg == "RS384" else "ec-1"), "typ": "JWT", **(extra_header or {})}
        return jwt.encode(claims, signing_key, algorithm=alg, headers=headers)


class FhirServer:
    """A FHIR server on loopback answering GETs from `routes` ("Patient/p1" or "Coverage?patient=p1&..." ->
    JSON), recording each request's path and Authorization header; `delay` seconds before each answer."""

    def __init__(self):
        self.routes: dict[str, dict] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Authorization")))
                time.sleep(server.delay)
                body = server.routes.get(self.path.lstrip("/"))
                payload = json.dumps(body or {"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "not-found"}]}).encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:  # the service stopped waiting
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/r4"

    def serve(self, path: str, resource: dict) -> None:
        self.routes[f"r4/{path}"] = resource

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def inferno_request(name: str) -> dict:
    return json.loads((INFERNO / f"{name}.json").read_text(encoding="utf-8"))
