"""Metrics for operators: `GET /metrics` in Prometheus' text format.

What is counted (label values come from fixed sets, never from a request: no label holds patient
data, a path, a key or a claim id):

| metric | labels | what |
|---|---|---|
| `medspa_http_requests_total` | `route` (the URL rule, `(unmatched)` for a 404), `method`, `status` | answered requests |
| `medspa_http_request_duration_seconds` | `route`, `method` | histogram of the time in the app, from the first check to the answer |
| `medspa_claims_answered_total` | `decision` | claims answered (and audited), by decision |
| `medspa_rules_fired_total` | `rule_id`, `effect` (`excluded`, or `learned_from_history`: it fired but the payer's history overrules it) | rules that fired on answered claims |
| `medspa_model_events_total` | `event` (`loaded`: a worker's first model, `swapped`: a new version replaced the served one, `load_failed`) | model loads |
| `medspa_model_served` | `name`, `version`, `alias` | how many workers serve that version now (0 once swapped out) |

Across gunicorn workers: prometheus_client's multiprocess mode. The gunicorn config's master
(`service/gunicorn_conf.py`) sets PROMETHEUS_MULTIPROC_DIR to an empty private folder before any
worker starts; each worker writes its values to files of its own there, any worker's `/metrics`
sums them all (counters and histograms keep a worker's counts after it exits; the served-model
gauge counts live workers only: the master drops an exited worker's gauges), and the master
removes the folder when it stops. Without the variable (`flask run`, tests in process) the app
counts in its own registry.

Protected like the API, on the API's port: the API key (or the page's session), checked with the
failed-key throttle, but not the rate limit, which lives in the audit database: an operator must
see the metrics while that database is down. Prometheus sends a key with `authorization:
{credentials_file: ...}`; give it a key of its own, so it can be revoked alone. nginx passes
`/metrics` like every route. Not a separate port: a second listener would need the same
protection, and the sync workers cannot serve two sockets apart.
"""
from __future__ import annotations

import os
import time
from collections import Counter as Tally

from flask import Blueprint, Flask, Response, current_app, g
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.auth import identify_client
from service.logging import route_and_method

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
METRICS_ROUTE = "/metrics"
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
EXTENSION = "metrics"

bp = Blueprint("metrics", __name__)
bp.before_request(identify_client)  # the API key, without the rate limit (the docstring says why)


class ServiceMetrics:
    def __init__(self):
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("medspa_http_requests", "Answered HTTP requests by route (URL rule), method and "
                                "status", ["route", "method", "status"], registry=registry)
        self.latency = Histogram("medspa_http_request_duration_seconds", "Time in the app per request, by route "
                                 "and method", ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        self.claims = Counter("medspa_claims_answered", "Claims answered and audited, by decision", ["decision"],
                              registry=registry)
        self.rules = Counter("medspa_rules_fired", "Exclusion rules that fired on answered claims, by rule and "
                             "effect", ["rule_id", "effect"], registry=registry)
        self.model_events = Counter("medspa_model_events", "Model loads: loaded (first), swapped, load_failed",
                                    ["event"], registry=registry)
        self.served = Gauge("medspa_model_served", "Workers serving this model version now",
                            ["name", "version", "alias"], multiprocess_mode="livesum", registry=registry)
        # Each labelled child, once: prometheus_client's labels() validates and locks on every call
        # (about 7 us, four times a request); the label values come from fixed sets, so this stays small.
        self._children: dict[tuple, object] = {}

    def _child(self, metric, *labels: str):
        child = self._children.get((metric, labels))
        if child is None:
            child = self._children[metric, labels] = metric.labels(*labels)
        return child

    def observe_request(self, route: str, method: str, status: int, seconds: float | None) -> None:
        self._child(self.requests, route, method, str(status)).inc()
        if seconds is not None:
            self._child(self.latency, route, method).observe(seconds)

    def count_answered(self, answers: list[dict]) -> None:
        """Decisions and fired rules of audited answers: /v1 answers (`excluded_by`,
        `rules_learned_from_history`) or /invocations rows (`rule_ids`, `;`-separated)."""
        decisions, rules = Tally(), Tally()
        for answer in answers:
            decisions[answer["decision"]] += 1
            for rule in answer.get("excluded_by", ()):
                rules[rule["id"], "excluded"] += 1
            for rule in answer.get("rules_learned_from_history", ()):
                rules[rule["id"], "learned_from_history"] += 1
            for rule_id in filter(None, str(answer.get("rule_ids") or "").split(";")):
                rules[rule_id, "excluded"] += 1
        for decision, count in decisions.items():
            self._child(self.claims, decision).inc(count)
        for (rule_id, effect), count in rules.items():
            self._child(self.rules, rule_id, effect).inc(count)

    def model_loaded(self, previous: dict | None, loaded: dict) -> None:
        if previous is not None:
            self.served.labels(*_model_labels(previous)).set(0)
        self.served.labels(*_model_labels(loaded)).set(1)
        self.model_events.labels("loaded" if previous is None else "swapped").inc()

    def model_load_failed(self) -> None:
        self.model_events.labels("load_failed").inc()

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROCESS_DIR_ENV):  # every worker's files, summed
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _model_labels(info: dict) -> tuple[str, str, str]:
    return str(info.get("name")), str(info.get("version")), str(info.get("alias") or "")


def metrics_of(app: Flask) -> ServiceMetrics:
    return app.extensions[EXTENSION]


@bp.get(METRICS_ROUTE)
def metrics():
    return Response(metrics_of(current_app).exposition(), content_type=CONTENT_TYPE_LATEST)


def _observe(response):
    route, method = route_and_method()
    started = g.get("started")
    metrics_of(current_app).observe_request(route, method, response.status_code,
                                            None if started is None else time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Before the model extension, which reports its loads here."""
    app.extensions[EXTENSION] = ServiceMetrics()
    app.register_blueprint(bp)
    app.after_request(_observe)
