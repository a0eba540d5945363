"""The time-ordered split (training.data.split): the oldest claims train, the next validate, the
newest test; fractions are exact and the parts never overlap."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.data.split import split_by_date


def claims_over_days(days: int, per_day: int = 10) -> pd.DataFrame:
    dates = np.repeat(pd.date_range("2025-01-01", periods=days), per_day)
    shuffled = np.random.default_rng(0).permutation(len(dates))
    return pd.DataFrame({"claim_id": [f"c{i}" for i in range(len(dates))], "service_date": dates[shuffled],
                         "approved": np.arange(len(dates)) % 2 == 0})


def test_split_puts_the_oldest_claims_in_train_and_the_newest_fifth_in_test():
    split = split_by_date(claims_over_days(100))
    assert (len(split.train), len(split.validation), len(split.test)) == (700, 100, 200)
    assert split.train["service_date"].max() <= split.validation["service_date"].min()
    assert split.validation["service_date"].max() <= split.test["service_date"].min()
    assert split.summary()["test"]["last_date"] == "2025-04-10"


@pytest.mark.parametrize("validation, test", [(0.0, 0.2), (0.5, 0.5), (0.1, 1.2)])
def test_split_refuses_fractions_that_leave_no_training_claims(validation, test):
    with pytest.raises(ValueError, match="fraction"):
        split_by_date(claims_over_days(10), validation, test)


def test_split_refuses_a_file_too_small_to_split():
    with pytest.raises(ValueError, match="too few"):
        split_by_date(claims_over_days(1, per_day=2))


def test_the_parts_hold_every_claim_once_in_the_asked_fractions():
    claims = claims_over_days(40)
    split = split_by_date(claims, validation_fraction=0.25, test_fraction=0.25)
    assert (len(split.train), len(split.validation), len(split.test)) == (200, 100, 100)
    parts = pd.concat([split.train, split.validation, split.test])["claim_id"]
    assert parts.is_unique and set(parts) == set(claims["claim_id"])


def test_claims_of_one_day_keep_their_file_order_across_a_boundary():
    claims = pd.DataFrame({"claim_id": [f"c{i}" for i in range(10)],
                           "service_date": pd.Timestamp("2025-01-01"), "approved": True})
    split = split_by_date(claims, validation_fraction=0.2, test_fraction=0.3)
    assert [*split.train["claim_id"], *split.validation["claim_id"], *split.test["claim_id"]] == \
        [f"c{i}" for i in range(10)]


def test_the_summary_gives_rows_and_first_and_last_dates_as_text():
    summary = split_by_date(claims_over_days(10)).summary()
    assert summary == {
        "train": {"rows": 70, "first_date": "2025-01-01", "last_date": "2025-01-07"},
        "validation": {"rows": 10, "first_date": "2025-01-08", "last_date": "2025-01-08"},
        "test": {"rows": 20, "first_date": "2025-01-09", "last_date": "2025-01-10"},
    }
