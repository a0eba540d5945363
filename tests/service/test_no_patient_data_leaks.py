"""A sentinel placed in every field of bad (and good) requests appears in no error body and no log line:
the app's JSON log in-process, and everything gunicorn writes (its own log and its access log)."""
from __future__ import annotations

import http.client
import json
import signal

import pytest

from features.contract import VISIT_FIELDS
from tests.service.service_testing import API_KEY, SENTINEL, example_claim, start_gunicorn


def _sentinel_in(field: str) -> dict:
    """The example claim with the sentinel in one field, in the form most likely to be echoed."""
    if field == "diagnosis_codes":
        return example_claim(diagnosis_codes=["G43.709", SENTINEL, f"{SENTINEL[:3]}.{SENTINEL[4:7]}"])
    return example_claim(**{field: SENTINEL})


BAD_REQUESTS = [
    *[(f"sentinel in {field}", "/v1/predict", _sentinel_in(field)) for field in VISIT_FIELDS if field != "claim_id"],
    ("sentinel in every field", "/v1/predict", {field: SENTINEL for field in VISIT_FIELDS}),
    ("sentinel as an unknown field name", "/v1/predict", example_claim(**{SENTINEL: SENTINEL})),
    ("sentinel as a field name with an underscore", "/v1/predict", example_claim(**{"SENTINEL_7f3a": 1})),
    ("sentinel claim_id on a bad claim", "/v1/predict", example_claim(claim_id=SENTINEL, patient_age=SENTINEL)),
    ("sentinel in a batch", "/v1/predict", {"claims": [example_claim(), _sentinel_in("plan_type")]}),
    ("sentinel as the batch", "/v1/predict", {"claims": SENTINEL}),
    ("sentinel as a list item", "/v1/predict", [SENTINEL]),
    ("sentinel in a record", "/invocations", {"dataframe_records": [_sentinel_in("treatment")]}),
    ("sentinel as a column", "/invocations", {"dataframe_split": {"columns": [SENTINEL], "data": [[SENTINEL]]}}),
    ("sentinel as a protocol key", "/invocations", {SENTINEL: [1]}),
    ("sentinel as split keys", "/invocations", {"dataframe_split": {SENTINEL: 1}}),
]


@pytest.mark.parametrize("label, path, payload", BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS])
def test_bad_request_never_echoes_the_sentinel(served_client, auth, log_lines, label, path, payload):
    response = served_client.post(path, json=payload, headers=auth)
    text = response.get_data(as_text=True)
    if path == "/v1/predict" and isinstance(payload, dict) and "claims" in payload and response.status_code == 200:
        # a batch answers good claims: only the rejected entries must be clean
        errors = [result["error"] for result in response.get_json()["results"] if "error" in result]
        assert errors and SENTINEL not in repr(errors)
    else:
        assert 400 <= response.status_code < 500
        assert SENTINEL not in text
    assert not any(SENTINEL in line for line in log_lines())


@pytest.mark.parametrize("headers", [
    {"X-API-Key": SENTINEL},
    {"Authorization": f"Bearer {SENTINEL}"},
])
def test_a_wrong_key_is_not_echoed_or_logged(client, log_lines, headers):
    response = client.post("/v1/predict", json=example_claim(claim_id=SENTINEL), headers=headers)
    assert response.status_code == 401
    assert SENTINEL not in response.get_data(as_text=True)
    assert not any(SENTINEL in line for line in log_lines())


def test_malformed_json_with_the_sentinel_is_not_echoed(client, auth, log_lines):
    response = client.post("/v1/predict", data=f'{{"claim_id": "{SENTINEL}", '.encode(),
                           content_type="application/json", headers=auth)
    assert response.status_code == 400
    assert SENTINEL not in response.get_data(as_text=True)
    assert not any(SENTINEL in line for line in log_lines())


def test_unknown_paths_and_query_strings_are_not_logged(client, auth, log_lines):
    client.get(f"/v1/{SENTINEL}?q={SENTINEL}", headers=auth)
    client.get(f"/v1/treatments?patient={SENTINEL}", headers=auth)
    assert not any(SENTINEL in line for line in log_lines())


def test_a_good_request_logs_no_patient_data(served_client, auth, log_lines):
    claim = example_claim(claim_id=SENTINEL)
    response = served_client.post("/v1/predict", json={"claims": [claim, claim]}, headers=auth)
    assert response.status_code == 200
    lines = log_lines()
    assert not any(SENTINEL in line for line in lines)
    for forbidden in ("G43", "botulinum", '"patient_age"', '"billed_amount"', '"diagnosis_codes"'):
        assert not any(forbidden in line for line in lines), forbidden
    assert any('"claims": 2' in line and '"answered": 2' in line for line in lines)


# A good claim whose every field holds a value no log line holds by chance: no value a timestamp, a
# latency (3 decimals), a pid or a hex request id could contain. Booleans and values shorter than 4
# characters cannot be told apart, so MARKERS leaves them out.
MARKED_CLAIM = {
    "claim_id": SENTINEL, "service_date": "2019-07-13", "treatment": "photodynamic_therapy",
    "procedure_code": "J7308", "diagnosis_codes": ["L57.0", "I87.2"], "plan_type": "medicare",
    "benefit_scope": "comprehensive", "facility_type": "ambulatory_surgery_center", "place_of_service": "24",
    "in_network": False, "referral": True, "medical_necessity_letter": True, "prior_authorization": True,
    "conservative_therapy_documented": True, "visit_number": 7, "weeks_since_last_treatment": 38.0625,
    "patient_age": 67, "billed_amount": 4321.8765, "benefit_limit": 98765.4321, "benefit_used": 1234.5678,
    "allowed_amount": 3210.9876, "deductible_remaining": 876.5432, "coinsurance_rate": 0.1357, "copay": 24.6813,
}
MARKERS = (SENTINEL, "2019-07-13", "photodynamic_therapy", "J7308", "L57.0", "L570", "I87.2", "I872", "medicare",
           "comprehensive", "ambulatory_surgery_center", "38.0625", "4321.8765", "98765.4321", "1234.5678",
           "3210.9876", "876.5432", "0.1357", "24.6813")
GOOD_REQUESTS = [
    ("one claim", "/v1/predict", MARKED_CLAIM),
    ("a batch", "/v1/predict", {"claims": [MARKED_CLAIM, MARKED_CLAIM]}),
    ("a batch with a bad claim", "/v1/predict", {"claims": [MARKED_CLAIM, _sentinel_in("patient_age")]}),
    ("records", "/invocations", {"dataframe_records": [MARKED_CLAIM]}),
    ("split", "/invocations", {"dataframe_split": {"columns": list(MARKED_CLAIM), "data": [list(MARKED_CLAIM.values())]}}),
]


def test_the_marked_claim_fills_every_field():
    assert set(MARKED_CLAIM) == set(VISIT_FIELDS)


@pytest.mark.parametrize("label, path, payload", GOOD_REQUESTS, ids=[r[0] for r in GOOD_REQUESTS])
def test_a_good_request_logs_none_of_its_fields(served_client, auth, log_lines, label, path, payload):
    response = served_client.post(path, json=payload, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    lines = log_lines()
    assert any('"status": 200' in line for line in lines)
    leaked = [marker for marker in MARKERS for line in lines if marker in line]
    assert not leaked, leaked


@pytest.mark.slow
def test_gunicorn_writes_no_field_of_good_or_bad_requests(model_store, tmp_path):
    """Production's gunicorn config, with its access log turned on (off by default) to check its format."""
    server = start_gunicorn(tmp_path, {"TRACKING_URI": model_store.uri, "API_KEYS": API_KEY,
                                       "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                                       "MODEL_POLL_SECONDS": 0}, 1, "--access-logfile", "-")
    requests = [(path, payload, {"Authorization": f"Bearer {API_KEY}"}) for _, path, payload in GOOD_REQUESTS]
    requests += [(path, payload, {"Authorization": f"Bearer {API_KEY}"}) for _, path, payload in BAD_REQUESTS]
    requests += [("/v1/predict", MARKED_CLAIM, {"X-API-Key": SENTINEL}),
                 ("/v1/predict", MARKED_CLAIM, {"Authorization": f"Bearer {SENTINEL}"}),
                 (f"/v1/{SENTINEL}?patient={SENTINEL}", MARKED_CLAIM, {"Authorization": f"Bearer {API_KEY}"}),
                 (f"/v1/predict?patient={SENTINEL}", MARKED_CLAIM,
                  {"Authorization": f"Bearer {API_KEY}", "User-Agent": SENTINEL, "Referer": f"https://x/{SENTINEL}"})]
    statuses = []
    try:
        server.wait_ready()
        for path, payload, headers in requests:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                connection.request("POST", path, body=json.dumps(payload).encode(),
                                   headers={"Content-Type": "application/json", **headers})
                response = connection.getresponse()
                body = response.read().decode()
            finally:
                connection.close()
            statuses.append(response.status)
            if response.status >= 400:
                assert SENTINEL not in body, (path, response.status)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
    assert 200 in statuses and 401 in statuses and 404 in statuses and 422 in statuses
    log = server.log()
    access_lines = [line for line in log.splitlines() if "request_id=" in line]
    assert len(access_lines) >= len(requests)  # the access log was on, in the config's format
    leaked = sorted({marker for marker in MARKERS if marker in log})
    assert not leaked, leaked
