"""A fixed set of answers, byte for byte: a refactor must not change what the model says.

The recipe is fixed (3,000 demo claims of seed 7, two teachers, 40 iterations; training is
deterministic), and so are the claims: 200 varied claims and the first 200 test claims. The
expected answers were first written by the code before the rooms refactor, which left them
unchanged. A change that is meant to change answers writes the file anew
(`python -m tests.training.model.test_answers_unchanged`) and says so in its commit.
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
from training.data.loading import load_claims
from training.data.split import split_by_date
from training.demo.generator import generate_history
from training.model.params import ModelParams
from training.model_fitting import fit_coverage_model

EXPECTED = Path(__file__).resolve().parents[2] / "data" / "expected_answers.json.gz"


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


@pytest.mark.slow
def test_answers_are_the_same_byte_for_byte(tmp_path):
    expected = gzip.decompress(EXPECTED.read_bytes()).decode()
    actual = answers_text(tmp_path)
    assert len(json.loads(actual)["answers"]) == 400
    assert actual == expected


if __name__ == "__main__":  # write the expected answers anew (see the module docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        EXPECTED.write_bytes(gzip.compress(answers_text(Path(scratch)).encode(), mtime=0))
    sys.exit(0)
