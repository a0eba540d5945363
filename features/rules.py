"""Hard exclusion rules: a data table (features/data/exclusion_rules.csv) and the engine that
applies it. A fired rule decides the claim whatever the model says; every fired rule is reported.

The table's vocabulary is small on purpose, so a policy analyst can read and extend it:
- applies_to: `any`, `cosmetic_by_default`, `category:<name>`, `treatment:<key>|<key>...`
- condition:  `always`, `no_covered_diagnosis`, `cosmetic_encounter`, `benefit_exhausted`, `header_code`

A claim whose treatment is unresolved (a shared code alone: the composite key of its candidates)
is held to a rule only when `applies_to` takes in every candidate.

The version that travels with every prediction is the declared version plus a hash of the table,
so an edit that forgets to bump the version still shows.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from features.catalog import TreatmentCatalog, load_catalog
from features.claim_facts import DiagnosisFacts

RULES_FILE = "exclusion_rules.csv"
VERSION_FILE = "rules_version.txt"
CONDITIONS = ("always", "no_covered_diagnosis", "cosmetic_encounter", "benefit_exhausted", "header_code")


class RuleTableError(ValueError):
    """The rules file is malformed: the message names the row and column."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    applies_to: str
    condition: str
    carc: str
    group_code: str
    reason: str
    source: str

    def to_dict(self) -> dict:
        return {"id": self.rule_id, "reason": self.reason, "carc": self.carc,
                "group_code": self.group_code, "source": self.source}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str

    def fire(self, treatment_keys, facts: DiagnosisFacts, benefit_limit, benefit_used,
             catalog: TreatmentCatalog | None = None) -> np.ndarray:
        """Boolean matrix (claims x rules): which rule fires for which claim.

        benefit_limit uses NaN for "no limit". Arrays are aligned, one entry per claim.
        """
        catalog = catalog or load_catalog()
        treatment_keys = np.asarray(treatment_keys, dtype=object)
        limit = np.asarray(benefit_limit, dtype=float)
        used = np.asarray(benefit_used, dtype=float)
        conditions = {
            "always": np.ones(len(treatment_keys), dtype=bool),
            "no_covered_diagnosis": ~facts["covered_diagnosis"] & ~facts["header_may_be_covered"],
            "cosmetic_encounter": facts["cosmetic_encounter"],
            "benefit_exhausted": ~np.isnan(limit) & (used >= np.nan_to_num(limit, nan=np.inf)),
            "header_code": facts["header_code"],
        }
        fired = self.applicable(treatment_keys, catalog)
        for column, rule in enumerate(self.rules):
            fired[:, column] &= conditions[rule.condition]
        return fired

    def applicable(self, treatment_keys, catalog: TreatmentCatalog | None = None) -> np.ndarray:
        """Boolean matrix (claims x rules): which rule applies to each claim's treatment, whatever
        its condition."""
        catalog = catalog or load_catalog()
        treatment_keys = np.asarray(treatment_keys, dtype=object)
        applies = np.zeros((len(treatment_keys), len(self.rules)), dtype=bool)
        for column, rule in enumerate(self.rules):
            applies[:, column] = _applies(rule.applies_to, treatment_keys, catalog)
        return applies

    def fired_rules(self, fired_row: np.ndarray) -> list[Rule]:
        return [rule for rule, hit in zip(self.rules, fired_row) if hit]


def _applies(applies_to: str, treatment_keys: np.ndarray, catalog: TreatmentCatalog) -> np.ndarray:
    """Does the rule apply to each claim's treatment? To an unresolved key (a composite of
    candidates) only when it applies to every candidate: the claim may be any of them."""
    if applies_to == "any":
        return np.ones(len(treatment_keys), dtype=bool)
    if applies_to == "cosmetic_by_default":
        keys = {t.key for t in catalog.treatments.values() if t.cosmetic_by_default}
    elif applies_to.startswith("category:"):
        keys = {t.key for t in catalog.treatments.values() if t.category == applies_to.split(":", 1)[1]}
    else:
        keys = set(applies_to.split(":", 1)[1].split("|"))

    def applies_to_key(key) -> bool:
        candidates = catalog.candidates(key)
        return bool(candidates) and all(t.key in keys for t in candidates)

    if len(treatment_keys) == 1:
        return np.array([applies_to_key(treatment_keys[0])])
    # once per distinct key, not per claim; a missing key (code -1) picks the trailing False
    codes, distinct = pd.factorize(treatment_keys)
    return np.array([applies_to_key(key) for key in distinct] + [False])[codes]


def parse_rules(rows, declared_version: str, table_text: str, catalog: TreatmentCatalog | None = None) -> RuleSet:
    catalog = catalog or load_catalog()
    rules, seen = [], set()
    for number, row in enumerate(rows, start=2):
        where = f"{RULES_FILE} row {number}"
        rule = Rule(**{name: (row.get(name) or "").strip() for name in Rule.__dataclass_fields__})
        if not rule.rule_id or rule.rule_id in seen:
            raise RuleTableError(f"{where}, rule_id: missing or repeated")
        if rule.condition not in CONDITIONS:
            raise RuleTableError(f"{where}, condition: must be one of {', '.join(CONDITIONS)}")
        if not rule.carc or not rule.source or not rule.reason:
            raise RuleTableError(f"{where}: carc, reason and source are required")
        _check_applies_to(rule.applies_to, where, catalog)
        seen.add(rule.rule_id)
        rules.append(rule)
    digest = hashlib.sha256(table_text.encode("utf-8")).hexdigest()[:8]
    return RuleSet(tuple(rules), f"{declared_version}+{digest}")


def _check_applies_to(applies_to: str, where: str, catalog: TreatmentCatalog) -> None:
    if applies_to in ("any", "cosmetic_by_default"):
        return
    kind, _, value = applies_to.partition(":")
    if kind == "category" and any(t.category == value for t in catalog.treatments.values()):
        return
    if kind == "treatment" and value and all(key in catalog.treatments for key in value.split("|")):
        return
    raise RuleTableError(f"{where}, applies_to: must be any, cosmetic_by_default, category:<catalog category> "
                         "or treatment:<catalog key>|...")


@lru_cache(maxsize=1)
def load_rules() -> RuleSet:
    """The project's rule table, validated once per process."""
    data = resources.files("features.data")
    text = data.joinpath(RULES_FILE).read_text(encoding="utf-8")
    declared = data.joinpath(VERSION_FILE).read_text(encoding="utf-8").strip()
    return parse_rules(list(csv.DictReader(text.splitlines())), declared, text)
