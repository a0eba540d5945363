"""GET /metrics (service.metrics): Prometheus' text format, protected by the API key, counting
requests by route and status, latency, claims by decision, fired rules, model loads and swaps and
the served version; exact counts in process and summed over two gunicorn workers behind nginx; no
label carries anything a request sent."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service.service_testing import API_KEY, SENTINEL, example_claim, start_production_server

EXCLUDED = example_claim(claim_id="cosmetic", diagnosis_codes=["Z41.1"])  # botulinum toxin asked for as cosmetic
INVALID = example_claim(claim_id="bad", patient_age=-4)


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted label pairs): value} of an exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scraped: dict, sample: str, **labels) -> float:
    return scraped.get((sample, tuple(sorted(labels.items()))), 0.0)


def expected_tallies(answers: list[dict]) -> tuple[Counter, Counter]:
    decisions, rules = Counter(), Counter()
    for answer in answers:
        decisions[answer["decision"]] += 1
        rules.update((rule["id"], "excluded") for rule in answer.get("excluded_by", []))
        rules.update((rule["id"], "learned_from_history") for rule in answer.get("rules_learned_from_history", []))
        rules.update((rule_id, "excluded") for rule_id in (answer.get("rule_ids") or "").split(";") if rule_id)
    return decisions, rules


def send_known_requests(call) -> tuple[Counter, list[dict]]:
    """A fixed set of requests through `call(method, path, body, keyed) -> (status, body)`: returns
    {(route, method, status): count} and every answer the service gave (for the decisions)."""
    requests = ([("POST", "/v1/predict", example_claim(claim_id=f"one-{n}"), True) for n in range(3)]
                + [("POST", "/v1/predict", EXCLUDED, True),
                   ("POST", "/v1/predict", INVALID, True),
                   ("POST", "/v1/predict", {"claims": [example_claim(claim_id="b1"), EXCLUDED, INVALID]}, True),
                   ("POST", "/invocations", {"dataframe_records": [example_claim(claim_id="i1"), EXCLUDED]}, True),
                   ("GET", "/v1/model", None, True),
                   ("GET", "/v1/treatments", None, False),
                   ("GET", f"/v1/{SENTINEL}", None, True)])
    with ThreadPoolExecutor(max_workers=4) as pool:  # both workers take some
        results = list(pool.map(lambda request: call(*request), requests))
    routes = {"/v1/predict": "/v1/predict", "/invocations": "/invocations", "/v1/model": "/v1/model",
              "/v1/treatments": "/v1/treatments"}
    counts, answers = Counter(), []
    for (method, path, _, _), (status, body) in zip(requests, results):
        counts[routes.get(path, "(unmatched)"), method, str(status)] += 1
        if status == 200 and "decision" in body:
            answers.append(body)
        answers += [result["answer"] for result in body.get("results", []) if "answer" in result]
        answers += body.get("predictions", [])
    assert counts[("/v1/predict", "POST", "200")] == 5 and counts[("/v1/predict", "POST", "422")] == 1
    assert counts[("/v1/treatments", "GET", "401")] == 1 and counts[("(unmatched)", "GET", "404")] == 1
    return counts, answers


def check_counts(scraped: dict, counts: Counter, answers: list[dict]) -> None:
    for (route, method, status), count in counts.items():
        assert value(scraped, "medspa_http_requests_total", route=route, method=method, status=status) == count
    for route, method in {(route, method) for route, method, _ in counts}:
        sent = sum(count for (r, m, _), count in counts.items() if (r, m) == (route, method))
        assert value(scraped, "medspa_http_request_duration_seconds_count", route=route, method=method) == sent
    decisions, rules = expected_tallies(answers)
    assert sum(decisions.values()) == 8 and rules  # 3 + 1 single, 2 of the batch, 2 rows; the excluded ones fire
    for decision, count in decisions.items():
        assert value(scraped, "medspa_claims_answered_total", decision=decision) == count
    assert sum(v for (name, _), v in scraped.items() if name == "medspa_claims_answered_total") == 8
    for (rule_id, effect), count in rules.items():
        assert value(scraped, "medspa_rules_fired_total", rule_id=rule_id, effect=effect) == count


def test_metrics_count_what_was_answered_in_process(served_app):
    client = served_app.test_client()

    def call(method, path, body, keyed):
        response = client.open(path, method=method, json=body,
                               headers={"Authorization": f"Bearer {API_KEY}"} if keyed else {})
        return response.status_code, response.get_json(silent=True) or {}

    counts, answers = send_known_requests(call)
    response = client.get("/metrics", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    scraped = samples(text)
    check_counts(scraped, counts, answers)
    version = served_app.extensions["coverage_model"].info()["version"]
    assert value(scraped, "medspa_model_events_total", event="loaded") == 1
    assert value(scraped, "medspa_model_served", name="medspa-coverage", version=version, alias="champion") == 1
    assert SENTINEL not in text and "cosmetic" not in text and "Z41" not in text


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
def test_metrics_need_the_api_key(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"


def test_metrics_answer_without_touching_the_rate_limit(make_app):
    client = make_app(RATE_LIMIT_PER_MINUTE=1).test_client()
    assert client.get("/v1/treatments", headers={"X-API-Key": API_KEY}).status_code == 200
    assert client.get("/v1/treatments", headers={"X-API-Key": API_KEY}).status_code == 429
    assert {client.get("/metrics", headers={"X-API-Key": API_KEY}).status_code for _ in range(3)} == {200}


def test_a_swap_and_a_failed_load_are_counted_and_the_served_version_moves(make_app, model_store, tmp_path):
    store = model_store.copy_to(tmp_path / "store")
    app = make_app(TRACKING_URI=store.uri)
    extension = app.extensions["coverage_model"]
    store.move_champion(store.other_version)
    assert extension.poll_once()
    store.client().delete_registered_model_alias("medspa-coverage", "champion")
    assert not extension.load()
    scraped = samples(app.test_client().get("/metrics", headers={"X-API-Key": API_KEY}).get_data(as_text=True))
    events = {event: value(scraped, "medspa_model_events_total", event=event)
              for event in ("loaded", "swapped", "load_failed")}
    assert events == {"loaded": 1, "swapped": 1, "load_failed": 1}
    served = {version: value(scraped, "medspa_model_served", name="medspa-coverage", version=version, alias="champion")
              for version in (store.champion_version, store.other_version)}
    assert served == {store.champion_version: 0, store.other_version: 1}


@pytest.mark.slow
def test_metrics_are_summed_over_gunicorn_workers_behind_nginx(model_store, tmp_path):
    """The production shape (nginx, gunicorn, 2 workers): whichever worker answers the scrape, the
    counts are every worker's; nginx passes /metrics and the key is required there too."""
    server = start_production_server(tmp_path, {"API_KEYS": API_KEY, "TRACKING_URI": model_store.uri,
                                                "AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                                                "MODEL_POLL_SECONDS": 0}, workers=2)
    base = f"http://127.0.0.1:{server.port}"

    def call(method, path, body, keyed):
        request = urllib.request.Request(base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {API_KEY}"} if keyed else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def scrape() -> dict:
        request = urllib.request.Request(base + "/metrics", headers={"X-API-Key": API_KEY})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            return samples(response.read().decode())

    try:
        server.wait_ready()
        deadline, ready_scrapes = time.monotonic() + 60, 0
        while value(scrape(), "medspa_model_events_total", event="loaded") < 2:  # the second worker may still load
            ready_scrapes += 1
            assert time.monotonic() < deadline, "the second worker did not load its model"
            time.sleep(0.2)
        counts, answers = send_known_requests(call)
        assert call("GET", "/metrics", None, False)[0] == 401
        counts["/metrics", "GET", "401"] += 1
        # several scrapes: they land on either worker, and each sees every worker's counts
        scrapes = [scrape() for _ in range(4)]
        for number, scraped in enumerate(scrapes, start=ready_scrapes + 1):
            check_counts(scraped, counts + Counter({("/metrics", "GET", "200"): number}), answers)
            assert value(scraped, "medspa_model_events_total", event="loaded") == 2  # one per worker
            assert value(scraped, "medspa_model_served", name="medspa-coverage", version=model_store.champion_version,
                         alias="champion") == 2
    finally:
        server.stop()
    assert SENTINEL not in server.log()
