"""The ceiling over our HTTP figures: the service's own answer with nothing around it
(benchmarks.serve_profile `--ceiling`).

The floor (benchmarks/floor_app.py) answers a fixed JSON; this app answers each claim as the
service does, from the same model loaded the same way (service.wsgi's app, built from the same
environment): the claim checked and answered, the answer's JSON text sent. Nothing else: no key,
rate-limit token, audit row, log line, metric or request id. Its throughput is what any service
layer around this answer could reach under the same gunicorn and nginx on this machine.
"""
from __future__ import annotations

from flask import Flask, Response, request

from service.api import explain_option
from service.audit import compact_json
from service.claims import normalise_claims
from service.wsgi import app as service_app

app = Flask(__name__)
app.extensions["draining"] = service_app.extensions["draining"]  # the repo's gunicorn config drains it on SIGTERM
_MODEL = service_app.extensions["coverage_model"]


@app.post("/v1/predict")
def predict():
    checked = normalise_claims([request.get_json()])[0]
    answers, _ = _MODEL.answered([checked.claim], explain=explain_option())  # read as the service reads it
    return Response(compact_json(answers[0]), mimetype="application/json")


@app.get("/healthz/ready")
def ready():
    return {"status": "ready" if _MODEL.ready else "loading"}, 200 if _MODEL.ready else 503
