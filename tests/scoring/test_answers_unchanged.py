"""A fixed set of answers, byte for byte: a refactor must not change what the model says.

The recipe is fixed (3,000 demo claims of seed 7, two teachers, 40 iterations; training is
deterministic), and so are the claims: 200 varied claims and the first 200 test claims. The
expected answers were first written by the code before the rooms refactor, which left them
unchanged. A change that is meant to change answers writes the file anew
(`python -m tests.scoring.test_answers_unchanged`) and says so in its commit.

One part is machine-dependent and compared apart: the denial-reason model is a logistic
regression fitted by lbfgs on OpenBLAS, whose kernels differ by CPU (DYNAMIC_ARCH), so on
another CPU its shares move by up to about 0.002 and near-tied reasons can swap places (the
batch scores move in the 15th digit). Everything else is compared byte for byte.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from features.contract import CLEAN_COLUMNS
from tests.features.conftest import BASE_CLAIM, varied_claims
from claims_io.loading import load_claims
from training.data.split import split_by_date
from training.demo.generator import generate_history
from scoring.params import ModelParams
from training.model_fitting import fit_coverage_model

EXPECTED = Path(__file__).resolve().parents[1] / "data" / "expected_answers.json.gz"


def answers_text(folder: Path) -> str:
    """The answers and batch scores of the fixed model on the fixed claims, as sorted JSON."""
    path = folder / "history.csv"
    generate_history(3000, 7, path, progress=False)
    split = split_by_date(load_claims(path).claims)
    model = fit_coverage_model(split.train, split.validation, ModelParams(max_iter=40, teachers=2), progress=False)
    claims = [{**BASE_CLAIM, **claim} for claim in varied_claims(200, seed=3)]
    claims += split.test[list(CLEAN_COLUMNS)].head(200).to_dict("records")
    scored = model.score_frame(pd.DataFrame.from_records(claims, columns=list(CLEAN_COLUMNS)))
    payload = {"answers": model.answer_claims(claims),
               "scored": json.loads(scored.to_json(orient="records", double_precision=15))}
    return json.dumps(payload, sort_keys=True, default=str)


DENIAL_SHARE_TOLERANCE = 0.005  # what another CPU's BLAS kernels move a denial reason's share by
SCORE_DIGITS = 12


def machine_independent(payload: dict) -> tuple[str, list[dict]]:
    """(the payload without its denial reasons, batch scores to SCORE_DIGITS, as sorted JSON;
    each answer's denial reasons as {carc: probability})."""
    answers = [{key: value for key, value in answer.items() if key != "likely_denial_reasons"}
               for answer in payload["answers"]]
    scored = [{key: round(value, SCORE_DIGITS) if isinstance(value, float) else value for key, value in row.items()}
              for row in payload["scored"]]
    reasons = [{reason["carc"]: reason["probability"] for reason in answer["likely_denial_reasons"]}
               for answer in payload["answers"]]
    return json.dumps({"answers": answers, "scored": scored}, sort_keys=True), reasons


def first_difference(actual: dict, expected: dict) -> str:
    """Where two machine-independent payloads first part: the part, the row and the fields."""
    for part in ("answers", "scored"):
        for row, (mine, theirs) in enumerate(zip(actual[part], expected[part])):
            if mine != theirs:
                fields = sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))
                differing = sum(a != b for a, b in zip(actual[part], expected[part]))
                return (f"{part}[{row}] is the first that changed ({differing} of {len(actual[part])} did), in "
                        f"{fields}; a change meant to change answers writes the file anew: "
                        "python -m tests.scoring.test_answers_unchanged")
    return "the payloads differ in length or in order"


@pytest.mark.slow
def test_answers_are_the_same_byte_for_byte(tmp_path):
    expected_text, expected_reasons = machine_independent(json.loads(gzip.decompress(EXPECTED.read_bytes())))
    actual_text, actual_reasons = machine_independent(json.loads(answers_text(tmp_path)))
    assert len(actual_reasons) == 400
    # compared as one flag: pytest's diff of two texts of megabytes runs for many minutes
    same = actual_text == expected_text
    assert same, first_difference(json.loads(actual_text), json.loads(expected_text))
    for actual, expected in zip(actual_reasons, expected_reasons):
        for carc in actual.keys() | expected.keys():
            # a reason only one side lists is a near-tie at the end of the list
            assert abs(actual.get(carc, 0.0) - expected.get(carc, 0.0)) <= DENIAL_SHARE_TOLERANCE + (
                0.0 if carc in actual and carc in expected else min([*actual.values(), *expected.values()]))


if __name__ == "__main__":  # write the expected answers anew (see the module docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        EXPECTED.write_bytes(gzip.compress(answers_text(Path(scratch)).encode(), mtime=0))
    sys.exit(0)
