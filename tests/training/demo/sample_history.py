"""The demo suites' sample: one 20k-row CSV history written by the generator, with its truth file,
the loader's clean frame, and which exclusion rules its claims fire."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.claim_facts import diagnosis_facts, frame_to_columns
from features.rules import load_rules
from claims_io.loading import load_claims
from training.demo.generator import generate_history

ROWS = 20_000
SEED = 11


def write_sample_history(folder: Path):
    """(generation summary, raw text frame, truth frame, clean frame) of a fresh sample history."""
    out = folder / "history.csv"
    summary = generate_history(ROWS, SEED, out, progress=False)
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    truth = pd.read_csv(summary.truth_path, dtype={"claim_id": str})
    clean = load_claims(out).claims
    return summary, raw, truth, clean


def first_rule_hits(clean: pd.DataFrame):
    """(excluded by any rule, CARC of the first rule that fires, the diagnosis facts) per claim."""
    facts = diagnosis_facts(clean["treatment"].astype(str).to_numpy(), clean["diagnosis_codes"].astype(str).to_numpy())
    fired = load_rules().fire(frame_to_columns(clean), facts)
    first_carc = np.array([rule.carc for rule in load_rules().rules])[fired.argmax(axis=1)]
    return fired.any(axis=1), first_carc, facts
