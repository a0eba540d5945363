"""The floor under our HTTP figures: a Flask app that does nothing but HTTP (benchmarks.serve_profile).

It reads each POST /v1/predict body as JSON and answers a fixed small JSON object, with no key,
model, audit row, log line or metric, so that the same gunicorn config behind the same nginx,
under the same load generator, shows what Flask and the HTTP stack cost on this machine alone.
"""
from __future__ import annotations

import threading

from flask import Flask, jsonify, request

app = Flask(__name__)
# The repo's gunicorn config sets this on SIGTERM (service.health.start_draining); the floor has no health room.
app.extensions["draining"] = threading.Event()
ANSWER = {"decision": "covered", "approval_probability": 0.5}


@app.post("/v1/predict")
def predict():
    request.get_json()
    return jsonify(ANSWER)


@app.get("/healthz/ready")
def ready():
    return jsonify(status="ready")
