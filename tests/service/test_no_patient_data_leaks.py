"""A sentinel placed in every field of bad (and good) requests appears in no error body and no log line."""
from __future__ import annotations

import pytest

from features.contract import VISIT_FIELDS
from service_testing import SENTINEL, example_claim


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
