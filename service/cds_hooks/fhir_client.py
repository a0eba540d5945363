"""Reads from the client's FHIR server what the prefetch left out (CDS Hooks 2.0 "FHIR resource access").

Only when the call gives both `fhirServer` and `fhirAuthorization`. The token is sent as the
Authorization header of these reads and nowhere else: never logged, stored or put in an answer;
redirects are not followed (a redirect would carry it elsewhere), and the server must be https
(plain http only on this machine's loopback, where tests serve one). Each read waits at most
CDS_FHIR_TIMEOUT_SECONDS and reads at most MAX_FHIR_RESPONSE_BYTES; a call makes at most
MAX_FHIR_READS reads. A read that fails is a note in the answer (what was not read and why, in
words that hold no server answer), never an error of the call.
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

MAX_FHIR_READS = 12
MAX_FHIR_RESPONSE_BYTES = 4 * 1024 * 1024
FHIR_JSON = "application/fhir+json"
_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")


class FhirReadError(Exception):
    """A read from the FHIR server failed; the message says why in words of our own."""


def usable_server(url: str | None) -> bool:
    """https anywhere; http only on loopback."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def render_template(template: str, context: dict) -> str | None:
    """A prefetch template with its tokens filled from the context (`{{context.patientId}}`,
    `{{userPractitionerRoleId}}`, `{{userPractitionerId}}`); None when a token has no value."""
    user = str(context.get("userId") or "")
    values = {"userPractitionerRoleId": user.split("/", 1)[1] if user.startswith("PractitionerRole/") else None,
              "userPractitionerId": user.split("/", 1)[1] if user.startswith("Practitioner/") else None}
    missing = False

    def fill(match: re.Match) -> str:
        nonlocal missing
        name = match.group(1)
        value = context.get(name[len("context."):]) if name.startswith("context.") else values.get(name)
        if not isinstance(value, str) or not value:
            missing = True
            return ""
        return value

    rendered = _TOKEN.sub(fill, template)
    return None if missing else rendered


@dataclass
class FhirReader:
    server: str
    access_token: str
    timeout: float
    reads: int = 0

    def read(self, query: str) -> dict:
        """GET {server}/{query} as FHIR JSON; FhirReadError when it cannot be had."""
        if self.reads >= MAX_FHIR_READS:
            raise FhirReadError(f"not read: a call reads at most {MAX_FHIR_READS} times from the FHIR server")
        self.reads += 1
        try:
            with requests.get(f"{self.server.rstrip('/')}/{query.lstrip('/')}", timeout=self.timeout, stream=True,
                              allow_redirects=False,
                              headers={"Authorization": f"Bearer {self.access_token}", "Accept": FHIR_JSON}) as answer:
                if answer.status_code != 200:
                    raise FhirReadError(f"the FHIR server answered HTTP {answer.status_code}")
                body = answer.raw.read(MAX_FHIR_RESPONSE_BYTES + 1, decode_content=True)
        except requests.Timeout:
            raise FhirReadError(f"the FHIR server did not answer within {self.timeout:g} s") from None
        except requests.RequestException:
            raise FhirReadError("the FHIR server could not be reached") from None
        if len(body) > MAX_FHIR_RESPONSE_BYTES:
            raise FhirReadError(f"the FHIR server's answer is over {MAX_FHIR_RESPONSE_BYTES:,} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise FhirReadError("the FHIR server's answer is not JSON") from None
