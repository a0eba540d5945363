"""An independent claims-history generator, written from the claims contract only.

It exists to prove that nothing in training leans on the demo generator's internals: a different
treatment mix, different effect sizes, other spellings the contract allows (`yes`/`no` booleans,
dotless diagnosis codes, treatment given without a procedure code) and its own denial reasons.
It reads the project's domain tables only to write valid values (catalog keys and codes, covered
diagnoses, ICD-10-CM codes, the exclusion rules a real payer applies); it never imports
training.demo.generator or the demo population/payer modules.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.catalog import load_catalog
from features.claim_facts import diagnosis_facts
from features.diagnosis import load_table, with_dot
from features.rules import load_rules

# treatment -> (share of claims, share billed as medical with a covered diagnosis)
MIX = {
    "sclerotherapy": (0.16, 0.55),
    "massage_therapy": (0.16, 0.50),
    "botulinum_toxin": (0.14, 0.45),
    "photodynamic_therapy": (0.10, 0.80),
    "vascular_laser": (0.08, 0.40),
    "scar_treatment": (0.08, 0.35),
    "chemical_peel": (0.08, 0.20),
    "acne_treatment": (0.08, 0.70),
    "laser_hair_removal": (0.06, 0.15),
    "facial": (0.06, 0.0),
}
PLANS = {"ppo": 0.35, "hmo": 0.2, "epo": 0.1, "pos": 0.05, "hdhp": 0.1, "medicare": 0.1,
         "medicare_advantage": 0.05, "medicaid": 0.05}
FACILITIES = {"medical_spa": 0.3, "physician_office": 0.25, "dermatology_clinic": 0.25,
              "primary_care_clinic": 0.1, "hospital_outpatient": 0.05, "ambulatory_surgery_center": 0.05}
# Log-odds effects of the payer here; the paperwork effects are positive, as real payers reward it.
BASE_LOGIT = -2.2
EFFECTS = {"prior_authorization": 1.6, "referral": 0.5, "medical_necessity_letter": 1.1,
           "conservative_therapy_documented": 0.9, "in_network": 1.3, "covered_diagnosis": 1.8}
FACILITY_EFFECTS = {"medical_spa": -0.9, "physician_office": 0.3, "dermatology_clinic": 0.5,
                    "primary_care_clinic": 0.2, "hospital_outpatient": -0.2, "ambulatory_surgery_center": 0.0}
PLAN_EFFECTS = {"hmo": -0.4, "medicaid": -0.6, "medicare": 0.3, "hdhp": -0.2}


def _covered_codes(treatment_key: str) -> list[str]:
    table = load_table()
    codes = []
    for pattern in load_catalog()[treatment_key].covered_diagnoses:
        if pattern.endswith("*"):
            found = sorted(code for code in table.codes if code.startswith(pattern[:-1]) and table.is_billable(code))
            codes += found[:2]
        elif table.is_known(pattern) and table.is_billable(pattern):
            codes.append(pattern)
    return codes[:4]


def _own_code(treatment_key: str) -> str:
    catalog = load_catalog()
    owned = [code for code in catalog[treatment_key].procedure_codes if len(catalog.treatments_by_code[code]) == 1]
    return owned[0] if owned else ""


def _pick(rng: np.random.Generator, options: dict, n: int) -> np.ndarray:
    names = list(options)
    weights = np.array([options[name] for name in names], dtype=float)
    return np.array(names, dtype=object)[rng.choice(len(names), n, p=weights / weights.sum())]


def write_alt_history(path: str | Path, rows: int, seed: int) -> Path:
    """Write `rows` claims (CSV) drawn from this module's own payer; returns the path.

    Beside it, `<stem>.truth.csv` holds each claim's true approval probability (the columns
    `medspa-coverage train` reads from a demo truth file), so training reports how close it comes
    to the best possible model on a payer it was not designed around.
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    keys = list(MIX)
    shares = np.array([MIX[key][0] for key in keys])
    treatment = np.array(keys, dtype=object)[rng.choice(len(keys), rows, p=shares / shares.sum())]
    medical = rng.random(rows) < np.array([MIX[key][1] for key in treatment])
    covered = {key: _covered_codes(key) for key in keys}
    diagnoses = np.empty(rows, dtype=object)
    for row in range(rows):
        options = covered[treatment[row]]
        if medical[row] and options:
            code = options[rng.integers(len(options))]
            diagnoses[row] = code if rng.random() < 0.3 else with_dot(code)  # both spellings are valid
        else:
            diagnoses[row] = "Z41.1" if rng.random() < 0.3 else ""
    paperwork_rate = np.where(medical, 0.6, 0.08)
    frame = pd.DataFrame({
        "claim_id": [f"ALT-{seed}-{row:07d}" for row in range(rows)],
        "service_date": np.sort(np.datetime64("2024-01-01") + rng.integers(0, 730, rows).astype("timedelta64[D]")),
        "treatment": treatment,
        "procedure_code": [_own_code(key) if rng.random() < 0.4 else "" for key in treatment],
        "diagnosis_codes": diagnoses,
        "plan_type": _pick(rng, PLANS, rows),
        "benefit_scope": np.where(rng.random(rows) < 0.15, "office_only", "comprehensive"),
        "facility_type": _pick(rng, FACILITIES, rows),
        "in_network": rng.random(rows) < 0.7,
        "referral": rng.random(rows) < paperwork_rate,
        "medical_necessity_letter": rng.random(rows) < paperwork_rate * 0.8,
        "prior_authorization": rng.random(rows) < paperwork_rate,
        "conservative_therapy_documented": rng.random(rows) < paperwork_rate * 0.7,
        "visit_number": rng.integers(1, 6, rows),
        "patient_age": rng.integers(18, 86, rows),
        "billed_amount": np.round(rng.lognormal(6.0, 0.5, rows), 2),
    })
    frame["weeks_since_last_treatment"] = np.where(frame["visit_number"] > 1, rng.integers(2, 20, rows), np.nan)
    has_limit = rng.random(rows) < 0.1
    frame["benefit_limit"] = np.where(has_limit, 2000.0, np.nan)
    frame["benefit_used"] = np.where(has_limit, np.round(rng.uniform(0, 2400, rows), 2), 0.0)

    # The payer: hard exclusions first (the published rules), then a logistic model of its own.
    codes = frame["diagnosis_codes"].str.replace(".", "", regex=False).to_numpy(dtype=object)
    facts = diagnosis_facts(treatment, codes)
    rules = load_rules()
    fired = rules.fire(treatment, facts, frame["benefit_limit"].to_numpy(), frame["benefit_used"].to_numpy())
    excluded = fired.any(axis=1)
    logit = BASE_LOGIT + sum(effect * frame[name].to_numpy(dtype=float) for name, effect in EFFECTS.items()
                             if name in frame.columns)
    logit = logit + EFFECTS["covered_diagnosis"] * facts["covered_diagnosis"]
    logit = logit + frame["facility_type"].map(FACILITY_EFFECTS).to_numpy(dtype=float)
    logit = logit + frame["plan_type"].map(PLAN_EFFECTS).fillna(0.0).to_numpy(dtype=float)
    logit = logit - 0.15 * (frame["visit_number"].to_numpy() - 1)
    probability = np.where(excluded, 0.003, 1.0 / (1.0 + np.exp(-logit)))
    approved = rng.random(rows) < probability
    outcome = np.where(approved, np.where(rng.random(rows) < 0.1, "partial", "approved"), "denied")
    rule_carc = np.array([rule.carc for rule in rules.rules], dtype=object)[fired.argmax(axis=1)]
    model_carc = np.where(~frame["prior_authorization"], "197",
                          np.where(~frame["in_network"], "242", np.where(facts["covered_diagnosis"], "50", "11")))
    frame["outcome"] = outcome
    frame["paid_amount"] = np.where(approved, np.round(frame["billed_amount"] * 0.6, 2), 0.0)
    frame["denial_reason"] = np.where(approved, "", np.where(excluded, rule_carc, model_carc))
    for name in ("in_network", "referral", "medical_necessity_letter", "prior_authorization",
                 "conservative_therapy_documented"):
        frame[name] = np.where(frame[name], "yes", "no")  # a spelling the contract allows
    frame["service_date"] = frame["service_date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False)
    truth = pd.DataFrame({"claim_id": frame["claim_id"], "true_approval_probability": probability})
    truth.to_csv(path.with_name(f"{path.stem}.truth.csv"), index=False)
    return path
