"""Per-claim inputs read off the training history: a cell's own paid share, shrunk (issue 24).

Two diagnoses of the regional world's Brier gap (docs/model.md, "The regional world's Brier
gap, diagnosed") point at what the trees cannot see on 30,000 claims: sparse treatment x plan x
setting cells paid far below their neighbours (the model answers the neighbours' rate), and a
policy change that touched a few plan x treatment cells (the service date's splits lower the
others too). These give the teachers each as one numeric column, computed from the outcomes the
way the rule evidence shrinks a rule's paid share: toward the next coarser cell, by `weight`
claims, so a cell of a handful of claims says almost nothing.

Out of fold: a claim's value is counted on the other folds' claims only, so a claim's own outcome
never enters its input (leave-one-out would: within a cell, a lower value would mean the claim was
paid). Only the claims the teachers fit on are counted; every claim gets a value.
"""
from __future__ import annotations

import numpy as np

FOLDS = 5
WEIGHT = 30.0  # claims: a cell of 30 claims moves halfway from its neighbours' share to its own
RECENT = 0.75  # the newest quarter of the training dates is "recent"


def _log_odds(share: np.ndarray) -> np.ndarray:
    share = np.clip(share, 1e-4, 1 - 1e-4)
    return np.log(share / (1 - share))


def shrunk_share(cell: np.ndarray, outcome: np.ndarray, counted: np.ndarray, prior: np.ndarray,
                 fold: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """Per claim: its cell's paid share on the counted claims of the other folds, shrunk toward
    `prior` (per claim; the same within a cell and fold when it is a coarser cell's share)."""
    cells = int(cell.max()) + 1
    out = np.empty(len(cell))
    for f in range(int(fold.max()) + 1):
        counts = counted & (fold != f)
        claims = np.bincount(cell[counts], minlength=cells)[cell[fold == f]]
        paid = np.bincount(cell[counts], weights=outcome[counts], minlength=cells)[cell[fold == f]]
        out[fold == f] = (paid + weight * prior[fold == f]) / (claims + weight)
    return out


def hierarchy_shares(levels: list[np.ndarray], outcome: np.ndarray, counted: np.ndarray,
                     fold: np.ndarray) -> list[np.ndarray]:
    """Each level's shrunk share, coarse to fine (each level's cells nest in the previous one's),
    starting from the counted claims' overall share."""
    shares, prior = [], np.full(len(outcome), outcome[counted].mean())
    for cell in levels:
        prior = shrunk_share(cell, outcome, counted, prior, fold)
        shares.append(prior)
    return shares


def folds_of(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, FOLDS, rows)


def quirk_column(treatment, plan, facility, outcome, counted, seed) -> np.ndarray:
    """The treatment x plan x setting cell's shrunk paid share over its plan x treatment cell's,
    in log-odds: how far a sparse cell sits from its neighbours."""
    plan_treatment = plan * (treatment.max() + 1) + treatment
    full = plan_treatment * (facility.max() + 1) + facility
    _, pair, cell = hierarchy_shares([treatment, plan_treatment, full], outcome, counted,
                                     folds_of(len(outcome), seed))
    return _log_odds(cell) - _log_odds(pair)


def recent_change_column(cell, dates, outcome, counted, seed) -> np.ndarray:
    """The cell's shrunk paid share on the newest quarter of the training dates over its share
    before, in log-odds: where and how much a policy changed (0 where the cell did not change or
    is too sparse to say)."""
    fold = folds_of(len(outcome), seed)
    recent = dates >= np.quantile(dates[counted], RECENT)
    [overall] = hierarchy_shares([cell], outcome, counted, fold)
    after = shrunk_share(cell, outcome, counted & recent, overall, fold)
    before = shrunk_share(cell, outcome, counted & ~recent, overall, fold)
    return _log_odds(after) - _log_odds(before)
