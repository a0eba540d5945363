"""schemathesis against the committed OpenAPI document, in-process (WSGI) with the real model.

Every operation of service/openapi.json is fuzzed in schemathesis' examples, coverage and fuzzing
phases, with valid and invalid data. Each case is sent with a key and must get an answer the
document allows: no 5xx, the status codes, content types, headers and bodies documented, invalid
data rejected, undocumented methods answered 405 with `Allow`, no error body repeating a value
sent. The same request without a key must get 401, whatever its body.

`make fuzz` runs this module with FUZZ_MAX_EXAMPLES raised (the fuzzing phase's max_examples per
operation; DEFAULT_MAX_EXAMPLES otherwise).
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from tests.service.service_testing import API_KEY

COMMITTED = Path(__file__).resolve().parents[2] / "service" / "openapi.json"
DEFAULT_MAX_EXAMPLES = 200  # per operation (twelve of them)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", DEFAULT_MAX_EXAMPLES))
MIN_TOTAL_CASES = 1_000
KEY_HEADERS = ("authorization", "x-api-key")
ROOT = COMMITTED.parents[1]
# What an error body may rightly contain: the document's words, and the service's own (schemathesis
# also draws strings from the code of the app under test, such as the error code "invalid_request").
VOCABULARY = "\n".join(path.read_text(encoding="utf-8") for path in (
    COMMITTED, *ROOT.glob("service/**/*.py"), *ROOT.glob("features/*.py"), *ROOT.glob("training/*.py"),
    *ROOT.glob("features/data/*.csv")))

cases_run: Counter = Counter()  # operation label -> cases sent


class ServedApp:
    """The WSGI app the schema sends to; the module fixture puts the app with the real model in it.

    The schema is loaded at import (schemathesis parametrizes at collection), before the session's
    model store exists. schemathesis.pytest.from_fixture would avoid this, but it does not run
    under pytest 9 (it sets `Function._nodeid`, which pytest 9 no longer has)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@schemathesis.serializer("application/vnd.apache.parquet")
def _parquet_body(context, value) -> bytes:
    """A Parquet upload's body as the bytes drawn for it (POST /v1/files): mostly not Parquet, to be refused."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


served = ServedApp()
schema = schemathesis.openapi.from_path(COMMITTED)
schema.app = served  # as schemathesis.openapi.from_wsgi does, but with the committed document


@pytest.fixture(scope="module")
def fuzz_app(model_store, tmp_path_factory):
    """One app serving the session's champion for every case (building one per case would reload the model)."""
    from service.background import stop_jobs

    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app({
        "TESTING": True, "API_KEYS": [API_KEY], "TRACKING_URI": model_store.uri,
        "AUDIT_DATABASE_URL": f"sqlite:///{folder / 'audit.db'}", "MODEL_POLL_SECONDS": 0,
        "MONITOR_INTERVAL_MINUTES": 0,
        "RATE_LIMIT_PER_MINUTE": 0,  # thousands of cases from one key; test_auth tests the limit
        "FAILED_KEY_LIMIT": 0,  # every case is also sent without a key; test_auth tests the throttle
        "RATE_LIMIT_CLAIMS_PER_MINUTE": 0,
        "DOCS_ENABLED": False,  # the committed document is under test, not the app's copy
        "FILE_JOBS_DIR": str(folder / "file-jobs"),
    })
    assert app.extensions["coverage_model"].ready
    served.app = app
    yield app
    served.app = None
    stop_jobs(app, timeout=10)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, fuzz_app):
    cases_run[case.operation.label] += 1
    # positive_data_acceptance is left out: a claim can satisfy the JSON Schema and still be refused
    # with 422, rightly. Membership in ICD-10-CM (a well-formed "A00.0X9" that is no real code) and the
    # agreement of treatment and procedure_code are checks against the domain tables, which JSON
    # Schema cannot express. Every other check, including that the 422 is as documented, still runs.
    response = case.call_and_validate(headers={"Authorization": f"Bearer {API_KEY}"},
                                      excluded_checks=[positive_data_acceptance])
    if response.status_code >= 400:
        answer = " ".join(_strings(_json_or_text(response)))
        echoed = [text for text in _strings(case.body)
                  if len(text.strip()) >= 6 and text not in VOCABULARY and text in answer]
        assert not echoed, f"the {response.status_code} body repeats values sent: {echoed}"

    if case.operation.definition.raw.get("security") and case.method.upper() == case.operation.method.upper():
        for name in [name for name in (case.headers or {}) if name.lower() in KEY_HEADERS]:
            del case.headers[name]
        without_key = case.call()
        # A path parameter that makes the URL name no route (a job id with a '/' in it) is a 404 before
        # any key is read: no operation was reached, so there is nothing to authenticate.
        keyed = _json_or_text(response)
        no_route = response.status_code == 404 and isinstance(keyed, dict) and keyed.get("code") == "not_found"
        expected = 404 if no_route and case.path_parameters else 401
        assert without_key.status_code == expected, f"{case.operation.label} without a key: {without_key.status_code}"


def _strings(value) -> list[str]:
    """Every string in a JSON value, keys too (bytes and text bodies are one string)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (key, *_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _json_or_text(response):
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


def test_the_fuzz_sent_enough_cases_to_every_operation(capsys):
    documented = {f"{method.upper()} {path}" for path, operations in schema.raw_schema["paths"].items()
                  for method in operations}
    if set(cases_run) != documented:
        pytest.skip("counts the cases of test_every_operation_answers_as_documented: run the whole module")
    with capsys.disabled():  # the figure a reader of the run wants
        print(f"\nschemathesis: {sum(cases_run.values())} cases ({MAX_EXAMPLES} max examples per operation): "
              + ", ".join(f"{label} {count}" for label, count in cases_run.items()))
    assert sum(cases_run.values()) >= MIN_TOTAL_CASES, dict(cases_run)
