"""API keys on every protected route, checked before validation; the per-key rate limit."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import event, text

from service.audit import AuditStore
from service.auth import FailedKeyThrottle
from service.rate_limit import SharedRateLimiter
from service.settings import SettingsError
from tests.service.service_testing import API_KEY, body_of, example_claim

PROTECTED = [
    ("GET", "/v1/treatments", None),
    ("GET", "/v1/model", None),
    ("GET", "/v1/diagnoses?q=migraine", None),
    ("POST", "/v1/predict", example_claim()),
    ("POST", "/invocations", {"dataframe_records": [example_claim()]}),
    ("GET", "/metrics", None),
    ("POST", "/v1/files", None),
    ("GET", f"/v1/files/{'0' * 32}", None),
    ("DELETE", f"/v1/files/{'0' * 32}", None),
    ("GET", f"/v1/files/{'0' * 32}/scored", None),
    ("GET", f"/v1/files/{'0' * 32}/rejected", None),
]
CREDENTIALS = [
    ("missing", {}, False),
    ("wrong bearer", {"Authorization": "Bearer not-a-key"}, False),
    ("wrong x-api-key", {"X-API-Key": "not-a-key"}, False),
    ("basic scheme", {"Authorization": f"Basic {API_KEY}"}, False),
    ("empty bearer", {"Authorization": "Bearer "}, False),
    ("key hash instead of key", {"X-API-Key": hashlib.sha256(API_KEY.encode()).hexdigest()}, False),
    ("bearer", {"Authorization": f"Bearer {API_KEY}"}, True),
    ("bearer, scheme in lower case", {"Authorization": f"bearer {API_KEY}"}, True),
    ("x-api-key", {"X-API-Key": API_KEY}, True),
    ("a bad Authorization header is not rescued by X-API-Key", {"Authorization": "Basic x", "X-API-Key": API_KEY},
     False),
]


@pytest.mark.parametrize("method, path, body", PROTECTED)
@pytest.mark.parametrize("label, headers, accepted", CREDENTIALS, ids=[c[0] for c in CREDENTIALS])
def test_every_protected_route_needs_a_valid_key(client, method, path, body, label, headers, accepted):
    response = client.open(path, method=method, json=body, headers=headers)
    if accepted:
        assert response.status_code != 401
    else:
        assert response.status_code == 401
        assert body_of(response)["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, path", [("POST", "/v1/predict"), ("POST", "/invocations")])
@pytest.mark.parametrize("data, content_type", [
    (b"{not json", "application/json"),
    (b'{"patient_age": "old"}', "application/json"),
    (b"x" * 100, "text/plain"),
])
def test_a_bad_body_without_a_key_gets_401_not_a_validation_error(client, method, path, data, content_type):
    response = client.open(path, method=method, data=data, content_type=content_type)
    assert response.status_code == 401


def test_an_oversized_body_without_a_key_gets_401(make_app):
    client = make_app(MAX_CONTENT_LENGTH=100).test_client()
    assert client.post("/v1/predict", data=b"{" + b" " * 1000 + b"}", content_type="application/json").status_code == 401


def test_health_and_docs_need_no_key(client):
    assert client.get("/healthz/live").status_code == 200
    assert client.get("/healthz/ready").status_code == 503  # no model, but not 401
    assert client.get("/openapi.json").status_code == 200


def test_plain_keys_are_hashed_at_startup_and_not_kept(app):
    assert "API_KEYS" not in app.config
    assert hashlib.sha256(API_KEY.encode()).hexdigest() in app.config["API_KEY_HASHES"]
    assert API_KEY not in repr(dict(app.config))


def test_keys_configured_as_hashes_only(make_app):
    digest = hashlib.sha256(b"hashed-only-key").hexdigest()
    client = make_app(API_KEYS=None, API_KEY_HASHES=[digest]).test_client()
    assert client.get("/v1/treatments", headers={"X-API-Key": "hashed-only-key"}).status_code == 200
    assert client.get("/v1/treatments", headers={"X-API-Key": API_KEY}).status_code == 401


def test_keys_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("MEDSPA_COVERAGE_API_KEYS", "env-key-one,env-key-two")
    client = make_app(API_KEYS=None).test_client()
    for key in ("env-key-one", "env-key-two"):
        assert client.get("/v1/treatments", headers={"X-API-Key": key}).status_code == 200


def test_no_keys_configured_refuses_everyone(make_app):
    client = make_app(API_KEYS=None).test_client()
    assert client.get("/v1/treatments", headers={"X-API-Key": API_KEY}).status_code == 401


@pytest.mark.parametrize("hashes", [["not-hex"], ["ab" * 31]])
def test_a_malformed_key_hash_stops_the_start(make_app, hashes):
    with pytest.raises(SettingsError, match="API_KEY_HASHES"):
        make_app(API_KEY_HASHES=hashes)


def test_logs_name_the_key_by_its_id_never_the_key(client, auth, log_lines):
    client.get("/v1/treatments", headers=auth)
    lines = log_lines()
    key_id = hashlib.sha256(API_KEY.encode()).hexdigest()[:8]
    assert any(f'"key_id": "{key_id}"' in line for line in lines)
    assert not any(API_KEY in line for line in lines)


def test_rate_limit_answers_429_with_retry_after(make_app, auth):
    client = make_app(RATE_LIMIT_PER_MINUTE=2).test_client()
    assert [client.get("/v1/treatments", headers=auth).status_code for _ in range(2)] == [200, 200]
    limited = client.get("/v1/treatments", headers=auth)
    assert limited.status_code == 429
    assert body_of(limited)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    # the bucket is per key: another key is still served
    assert client.get("/v1/treatments", headers={"X-API-Key": "other-key-9876543210"}).status_code == 200


def test_rate_limit_zero_means_off(make_app, auth):
    client = make_app(RATE_LIMIT_PER_MINUTE=0).test_client()
    assert {client.get("/v1/treatments", headers=auth).status_code for _ in range(20)} == {200}


def _limiter(audit_url: str, requests: int, claims: int, now: list[float]) -> SharedRateLimiter:
    return SharedRateLimiter(AuditStore(audit_url).engine, requests, claims, clock=lambda: now[0])


def test_rate_limiter_refills_over_time(audit_url):
    now = [1_000.0]
    limiter = _limiter(audit_url, 60, 0, now)
    assert all(limiter.admit("k") == 0 for _ in range(60))
    assert limiter.admit("k") == 1
    now[0] += 1.0
    assert limiter.admit("k") == 0
    assert limiter.admit("k") >= 1


def test_claims_are_counted_and_a_batch_may_overdraw_once(audit_url):
    now = [1_000.0]
    limiter = _limiter(audit_url, 0, 600, now)  # ten claims a second
    assert limiter.admit("k") == 0
    with limiter.engine.begin() as connection:
        connection.execute(*limiter.claims_charge("k", 900))  # 300 over
    assert limiter.admit("k") == 30  # 300 claims of debt at 10 a second
    assert limiter.admit("other") == 0  # per key
    now[0] += 30
    assert limiter.admit("k") == 0


def test_workers_share_one_budget(audit_url):
    """Two limiters on one audit database, as two gunicorn workers (or hosts) have: the key's budget
    is the setting's, not twice it."""
    now = [1_000.0]
    first, second = _limiter(audit_url, 10, 0, now), _limiter(audit_url, 10, 0, now)
    answers = [(first if turn % 2 else second).admit("k") for turn in range(20)]
    assert answers[:10] == [0] * 10 and all(wait >= 1 for wait in answers[10:])


def test_a_later_clock_stored_first_takes_no_tokens_back(audit_url):
    """Worker A reads the clock after worker B but updates the bucket first (B waited for the row):
    B's earlier time must count as no time, not as tokens owed, or a key with budget left is refused."""
    first_now, second_now = [1_000.0], [999.9]
    first, second = _limiter(audit_url, 2, 0, first_now), _limiter(audit_url, 2, 0, second_now)
    assert first.admit("k") == 0  # one of the two left, stored at 1,000.0
    assert second.admit("k") == 0  # at 999.9: the last one, not 0.997 of one
    assert first.admit("k") >= 1


def test_a_row_made_by_another_worker_between_update_and_select_is_taken_from(postgresql_server):
    """Two workers' first requests for a key at once: ours finds no row to UPDATE, the other worker
    inserts it, our SELECT then sees it full. That is an admitted request, not a 429 (it was one,
    under load in CI)."""
    audit_url = postgresql_server.create_database("audit")
    now = [1_000.0]
    ours, other = _limiter(audit_url, 100, 0, now), _limiter(audit_url, 100, 0, now)
    raced = []

    @event.listens_for(ours.engine, "before_cursor_execute")
    def other_worker_inserts_first(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "rate_buckets" in statement and not raced:
            raced.append(other.admit("k"))  # its own connection, committed before our SELECT runs

    assert ours.admit("k") == 0 and raced == [0]
    with ours.engine.connect() as connection:
        assert connection.execute(text("SELECT requests FROM rate_buckets WHERE key_id = 'k'")).scalar() == 98.0


def test_a_batch_counts_every_claim_through_the_api(make_served_app, auth):
    from tests.service.service_testing import example_claim

    client = make_served_app(RATE_LIMIT_PER_MINUTE=0, RATE_LIMIT_CLAIMS_PER_MINUTE=5).test_client()
    batch = {"claims": [example_claim(claim_id=f"c{n}") for n in range(6)]}
    assert client.post("/v1/predict", json=batch, headers=auth).status_code == 200  # overdraws once
    limited = client.post("/v1/predict", json=example_claim(), headers=auth)
    assert limited.status_code == 429 and "5 claims per minute" in body_of(limited)["message"]
    assert 0 < int(limited.headers["Retry-After"]) <= 12  # one claim of debt at 5 a minute


def _treatments(client, headers, address="10.0.0.1", **environ):
    return client.get("/v1/treatments", headers=headers, environ_base={"REMOTE_ADDR": address, **environ})


def test_failed_keys_are_throttled_per_client_address_and_key_prefix(make_app, auth):
    client = make_app(FAILED_KEY_LIMIT=3, FAILED_KEY_WINDOW_SECONDS=60).test_client()
    wrong = {"X-API-Key": "a-guess"}
    assert [_treatments(client, wrong).status_code for _ in range(3)] == [401, 401, 401]
    for headers in (wrong, {"X-API-Key": "a-second-guess"}):  # from now on no key like these is even compared
        throttled = _treatments(client, headers)
        assert throttled.status_code == 429 and body_of(throttled)["code"] == "too_many_failed_keys"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert "guess" not in throttled.get_data(as_text=True)
    # The right key behind the same address (a NAT, nginx) is not locked out by another's guesses
    assert _treatments(client, auth).status_code == 200
    assert [_treatments(client, {}).status_code for _ in range(4)] == [401, 401, 401, 429]  # no key: a prefix too
    assert _treatments(client, auth, address="10.0.0.2").status_code == 200  # another address is served
    assert client.get("/healthz/live", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200


def test_the_throttle_reads_the_address_nginx_forwards_and_only_then(make_app, auth):
    wrong = {"X-API-Key": "a-guess"}
    behind_nginx = make_app(FAILED_KEY_LIMIT=1, FORWARDED_FOR_HOPS=1).test_client()
    assert _treatments(behind_nginx, {**wrong, "X-Forwarded-For": "203.0.113.7"}, "127.0.0.1").status_code == 401
    assert _treatments(behind_nginx, {**wrong, "X-Forwarded-For": "203.0.113.7"}, "127.0.0.1").status_code == 429
    assert _treatments(behind_nginx, {**auth, "X-Forwarded-For": "203.0.113.8"}, "127.0.0.1").status_code == 200
    facing_clients = make_app(FAILED_KEY_LIMIT=1).test_client()  # X-Forwarded-For is the client's to choose
    assert _treatments(facing_clients, {**wrong, "X-Forwarded-For": "203.0.113.7"}).status_code == 401
    assert _treatments(facing_clients, {**wrong, "X-Forwarded-For": "203.0.113.9"}).status_code == 429


def test_failed_key_limit_zero_means_off(make_app):
    client = make_app(FAILED_KEY_LIMIT=0).test_client()
    assert {_treatments(client, {"X-API-Key": "a-guess"}).status_code for _ in range(50)} == {401}


def test_failures_leave_the_window_and_idle_addresses_are_forgotten():
    now = [0.0]
    throttle = FailedKeyThrottle(limit=2, window=10, clock=lambda: now[0])
    throttle.record_failure("a")
    now[0] = 4.0
    throttle.record_failure("a")
    assert throttle.retry_after("a") == 6  # until the first failure is 10 s old
    now[0] = 10.5
    assert throttle.retry_after("a") == 0
    throttle.MAX_ADDRESSES = 2
    throttle.record_failure("b")
    now[0] = 30.0
    throttle.record_failure("c")  # a third address: the expired ones are dropped first
    assert set(throttle._failures) == {"c "}  # the address and the (empty) prefix of no key
