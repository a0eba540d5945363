"""The history columns the regional-gap variants give the teachers: out of fold, shrunk, and
saying where a policy changed."""
from __future__ import annotations

import numpy as np

from benchmarks.cell_shares import WEIGHT, folds_of, quirk_column, recent_change_column, shrunk_share


def test_a_claims_own_outcome_never_enters_its_value():
    rng = np.random.default_rng(0)
    cell, outcome = rng.integers(0, 4, 400), rng.random(400) < 0.6
    counted, fold = np.ones(400, bool), folds_of(400, 1)
    before = shrunk_share(cell, outcome.astype(float), counted, np.full(400, 0.5), fold)
    flipped = outcome.copy()
    flipped[7] = ~flipped[7]
    after = shrunk_share(cell, flipped.astype(float), counted, np.full(400, 0.5), fold)
    assert after[7] == before[7]
    assert not np.array_equal(after, before)  # the others in its cell and other folds see it


def test_a_sparse_cell_stays_near_its_neighbours_and_a_dense_one_speaks_for_itself():
    # Cell 0: 2,000 claims paid at 10%; cell 1: 5 claims, all paid; the prior is 50%.
    cell = np.r_[np.zeros(2000, int), np.ones(5, int)]
    outcome = np.r_[np.arange(2000) % 10 == 0, np.ones(5, bool)].astype(float)
    share = shrunk_share(cell, outcome, np.ones(len(cell), bool), np.full(len(cell), 0.5), folds_of(len(cell), 2))
    assert abs(share[:2000].mean() - 0.1) < 0.01
    assert 0.5 < share[-1] < 0.5 + 5 / (5 + WEIGHT)


def test_a_quirk_cell_below_its_neighbours_reads_negative():
    rng = np.random.default_rng(3)
    rows = 20_000
    treatment, plan, facility = rng.integers(0, 3, rows), rng.integers(0, 3, rows), rng.integers(0, 3, rows)
    quirk = (treatment == 1) & (plan == 2) & (facility == 0)
    outcome = (rng.random(rows) < np.where(quirk, 0.05, 0.7)).astype(float)
    column = quirk_column(treatment, plan, facility, outcome, np.ones(rows, bool), seed=4)
    assert column[quirk].mean() < -1.5
    assert abs(column[~quirk & (treatment == 0)].mean()) < 0.2


def test_the_recent_change_reads_only_where_the_payer_changed():
    rng = np.random.default_rng(5)
    rows = 20_000
    cell, dates = rng.integers(0, 4, rows), rng.integers(0, 1000, rows)
    changed = (cell == 3) & (dates >= 800)
    outcome = (rng.random(rows) < np.where(changed, 0.2, 0.7)).astype(float)
    column = recent_change_column(cell, dates, outcome, np.ones(rows, bool), seed=6)
    assert column[cell == 3].mean() < -1.5
    assert np.abs(column[cell != 3]).max() < 0.3
