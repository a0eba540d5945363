"""Constants and helpers shared by the service tests (fixtures live in conftest.py).

Until the trained model lands (phase 2), `FixedAnswerModel` stands in for the served model behind
the loader interface, only so the view's batch, audit and error paths can run; it is a test
double of the interface, not a prediction. Replace it with the tiny trained-model fixture then.
"""
from __future__ import annotations

import copy
import json

from service.schemas import EXAMPLE_CLAIM

API_KEY = "test-key-0123456789"
OTHER_KEY = "other-key-9876543210"
SENTINEL = "SENTINEL-7f3a"


class FixedAnswerModel:
    """Answers every claim with the same fixed answer (ignores the claim's content)."""

    def __init__(self):
        self.calls: list[list[dict]] = []

    def answer(self, claims: list[dict]) -> list[dict]:
        self.calls.append(claims)
        return [{"claim_id": claim["claim_id"], "decision": "uncertain", "approval_probability": 0.5,
                 "model": {"name": "stand-in", "version": "0", "alias": None}, "rules_version": "test"}
                for claim in claims]

    def info(self) -> dict:
        return {"name": "stand-in", "version": "0", "alias": None, "rules_version": "test"}


def fixed_answer_loader(config) -> FixedAnswerModel:
    return FixedAnswerModel()


DROP = object()  # example_claim(field=DROP) leaves the field out


def example_claim(**changes) -> dict:
    claim = copy.deepcopy(EXAMPLE_CLAIM)
    for name, value in changes.items():
        if value is DROP:
            claim.pop(name, None)
        else:
            claim[name] = value
    return claim



def body_of(response) -> dict:
    assert response.mimetype == "application/json", response.data[:200]
    return json.loads(response.data)
