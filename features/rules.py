"""Hard exclusion rules: a data table (features/data/exclusion_rules.csv) and the engine that
applies it. A fired rule decides the claim whatever the model says (a prior authorization on file
included: these are the edits an authorization does not waive); every fired rule is reported.

The table's vocabulary is small on purpose, so a policy analyst can read and extend it:
- applies_to: `any`, `cosmetic_by_default`, `category:<name>`, `treatment:<key>|<key>...`
- condition: one or more of these joined by ` & ` (all must hold):
  `always`, `no_covered_diagnosis`, `cosmetic_encounter`, `benefit_exhausted`, `header_code`,
  `below_min_age` (the catalog's minimum age), `outside_required_setting` (the catalog's
  required setting, features.catalog.SETTING_FACILITIES), `plan:<plan>|...`, `facility:<type>|...`,
  `procedure_code:<code>|...`, `diagnosis:<code>|...` (one of these codes is billed; a trailing
  `*` takes the code's children), `no_diagnosis:<code>|...` (none of them is)
- rule_class: what kind of edit it is (RULE_CLASSES); who pays when it denies is its CARC's group
  code (features/data/carc_codes.csv)

A claim whose treatment is unresolved (a shared code alone: the composite key of its candidates)
is held to a rule only when `applies_to` takes in every candidate.

The version that travels with every prediction is the declared version plus a hash of the table,
so an edit that forgets to bump the version still shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from features.carc import CARC_FILE, carc_group_code
from features.catalog import SETTING_FACILITIES, TreatmentCatalog, load_catalog, pattern_matches
from features.claim_facts import DiagnosisFacts, split_codes
from features.contract import FACILITY_TYPES, PLAN_TYPES
from features.diagnosis import normalise_code
from features.distinct import distinct_combinations, distinct_values, per_distinct
from features.tables import read_table, table_version

RULES_FILE = "exclusion_rules.csv"
VERSION_FILE = "rules_version.txt"
CONDITIONS = ("always", "no_covered_diagnosis", "cosmetic_encounter", "benefit_exhausted", "header_code",
              "below_min_age", "outside_required_setting")
# Conditions that take a value: `plan:medicare|medicare_advantage`.
VALUED_CONDITIONS = ("plan", "facility", "procedure_code", "diagnosis", "no_diagnosis")
CONDITION_SEPARATOR = " & "
# The conditions that read the claim's diagnoses.
DIAGNOSIS_CONDITIONS = ("no_covered_diagnosis", "cosmetic_encounter", "header_code", "diagnosis", "no_diagnosis")
# The conditions that read the claim's plan, place, age or code, beside its treatment and diagnoses.
CONTEXT_CONDITIONS = ("below_min_age", "outside_required_setting", "plan", "facility", "procedure_code")
RULE_CLASSES = ("dental", "personal_comfort", "cosmetic", "benefit_limit", "coding", "benefit_absent",
                "investigational", "age", "place_of_service")
# A claim is corrected out of these (bill the specific code); the others no change of coding lifts.
FIXABLE_CLASSES = ("coding",)
# A claim these exclude is paid elsewhere: the same visit at the setting the rule asks for is a claim
# the rule does not fire on, so the advice names that setting (scoring.advice).
MOVABLE_CLASSES = ("place_of_service",)
# The clean-frame columns the conditions read, beside the diagnosis facts.
# Treatment keys whose applicable rules are kept: the catalog's and composite keys, with room for
# unlisted values, which a file may hold many of.
MAX_CACHED_KEYS = 4096
RULE_COLUMNS = ("treatment", "diagnosis_codes", "plan_type", "facility_type", "procedure_code", "patient_age",
                "benefit_limit", "benefit_used")


class RuleTableError(ValueError):
    """The rules file is malformed: the message names the row and column."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    applies_to: str
    condition: str
    carc: str
    rule_class: str
    reason: str
    source: str

    @property
    def reads_claim_context(self) -> bool:
        """Whether the rule reads more than the treatment and the diagnoses (and the benefit left):
        the plan, the place, the age or the code billed."""
        return any(atom in CONTEXT_CONDITIONS or atom.partition(":")[0] in CONTEXT_CONDITIONS for atom in self.atoms)

    @property
    def reads_diagnoses(self) -> bool:
        return any(atom in DIAGNOSIS_CONDITIONS or atom.partition(":")[0] in DIAGNOSIS_CONDITIONS for atom in self.atoms)

    @property
    def fixable(self) -> bool:
        return self.rule_class in FIXABLE_CLASSES

    @property
    def group_code(self) -> str | None:
        """Who pays when the rule denies: the CARC's group code (features.carc)."""
        return carc_group_code(self.carc)

    def to_dict(self) -> dict:
        return {"id": self.rule_id, "reason": self.reason, "carc": self.carc, "group_code": self.group_code,
                "rule_class": self.rule_class, "source": self.source}

    @cached_property
    def atoms(self) -> tuple[str, ...]:
        return tuple(atom.strip() for atom in self.condition.split(CONDITION_SEPARATOR.strip()))


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str

    def fire(self, columns, facts: DiagnosisFacts, catalog: TreatmentCatalog | None = None) -> np.ndarray:
        """Boolean matrix (claims x rules): which rule fires for which claim.

        columns: the clean-frame columns of RULE_COLUMNS, aligned 1-D arrays (benefit_limit NaN
        for "no limit"); facts: their diagnosis facts (features.claim_facts.columns_facts).
        """
        catalog = catalog or load_catalog()
        treatment_keys = columns["treatment"]  # a Categorical stays one: read per distinct key below
        fired = self.applicable(treatment_keys, catalog)
        conditions = _Conditions(columns, facts, treatment_keys, catalog)
        # a rule that applies to none of these claims is skipped: its conditions are not read
        for column in np.flatnonzero(fired.any(axis=0)).tolist():
            for atom in self.rules[column].atoms:
                fired[:, column] &= conditions[atom]
        return fired

    def fire_changed(self, columns, facts: DiagnosisFacts, fired: np.ndarray, changed: tuple[str, ...],
                     catalog: TreatmentCatalog | None = None) -> np.ndarray:
        """fire(columns, facts) for claims that differ from those `fired` was worked out for (same
        rows, same order) in the columns `changed` alone: `fired` copied, with the rules that read
        a changed column judged again (a spa twin: the rules that read the facility)."""
        if "treatment" in changed:  # which rules apply at all
            return self.fire(columns, facts, catalog)
        catalog = catalog or load_catalog()
        treatment_keys = columns["treatment"]
        applicable = self.applicable(treatment_keys, catalog)
        fired = np.array(fired, dtype=bool)
        conditions = _Conditions(columns, facts, treatment_keys, catalog)
        for column, rule in enumerate(self.rules):
            if not any(name in changed for atom in rule.atoms for name in atom_columns(atom)):
                continue  # reads none of the changed columns: as it was
            fired[:, column] = applicable[:, column]
            for atom in rule.atoms:
                if fired[:, column].any():
                    fired[:, column] &= conditions[atom]
        return fired

    def applicable(self, treatment_keys, catalog: TreatmentCatalog | None = None) -> np.ndarray:
        """Boolean matrix (claims x rules): which rule applies to each claim's treatment, whatever
        its condition. Worked out once per distinct key and kept (the catalog and the table are
        fixed for the process): a claim costs a look-up, not a pass over the rules."""
        catalog = catalog or load_catalog()
        if len(treatment_keys) == 1:  # the service's single claim: its key's row (a copy: fire writes in it)
            return self._applicable_row(treatment_keys[0], catalog)[np.newaxis].copy()
        keys, codes = distinct_values(treatment_keys)
        rows = [self._applicable_row(key, catalog) for key in keys]
        return np.array(rows, dtype=bool).reshape(len(keys), len(self.rules))[codes]

    def _applicable_row(self, key, catalog: TreatmentCatalog) -> np.ndarray:
        """The rules that apply to one treatment key (none to a missing one), kept per catalog."""
        cache = self.__dict__.setdefault("_applicable_rows", {})  # frozen: the cache is not a field
        found = cache.get((key, id(catalog)))
        if found is None:
            found = np.array([_applies_to_key(rule.applies_to, key, catalog) for rule in self.rules], dtype=bool)
            found.setflags(write=False)
            if len(cache) < MAX_CACHED_KEYS and catalog is load_catalog():
                cache[(key, id(catalog))] = found
        return found

    def fired_rules(self, fired_row: np.ndarray) -> list[Rule]:
        return [rule for rule, hit in zip(self.rules, fired_row) if hit]


class _Conditions:
    """Each condition atom's truth per claim, worked out once and only when a rule asks."""

    def __init__(self, columns, facts: DiagnosisFacts, treatment_keys: np.ndarray, catalog: TreatmentCatalog):
        self.columns, self.facts, self.keys, self.catalog = columns, facts, treatment_keys, catalog
        self.known: dict[str, np.ndarray] = {}

    def __getitem__(self, atom: str) -> np.ndarray:
        if atom not in self.known:
            self.known[atom] = self._evaluate(atom)
        return self.known[atom]

    def _evaluate(self, atom: str) -> np.ndarray:
        facts, n = self.facts, len(self.keys)
        if atom == "always":
            return np.ones(n, dtype=bool)
        if atom == "no_covered_diagnosis":
            return ~facts["covered_diagnosis"] & ~facts["header_may_be_covered"]
        if atom in ("cosmetic_encounter", "header_code"):
            return np.asarray(facts[atom], dtype=bool)
        if atom == "benefit_exhausted":
            limit = np.asarray(self.columns["benefit_limit"], dtype=float)
            used = np.asarray(self.columns["benefit_used"], dtype=float)
            has_limit = ~np.isnan(limit)  # a NaN limit is no limit: its comparison is masked out
            return has_limit & (used >= np.where(has_limit, limit, np.inf))
        if atom == "below_min_age":
            minimum = self._per_treatment(lambda traits: traits.min_age)
            minimum = np.array([np.nan if value is None else value for value in minimum], dtype=float)
            return np.asarray(self.columns["patient_age"], dtype=float) < minimum  # NaN compares False
        if atom == "outside_required_setting":
            return self._outside_required_setting()
        kind, _, value = atom.partition(":")
        values = value.split("|")
        if kind in ("plan", "facility", "procedure_code"):
            column = {"plan": "plan_type", "facility": "facility_type"}.get(kind, kind)
            allowed = {part.upper() if kind == "procedure_code" else part for part in values}
            return per_distinct(self.columns[column], lambda value: _text_value(value) in allowed, bool)
        present = _diagnosis_present(self.columns["diagnosis_codes"], tuple(normalise_code(part) for part in values))
        return present if kind == "diagnosis" else ~present

    def _outside_required_setting(self) -> np.ndarray:
        """Per claim, whether its facility is outside the places its treatment's required setting
        accepts (False where the treatment requires none), once per distinct (key, facility) pair."""
        keys, key_codes = distinct_values(self.keys)
        places, place_codes = distinct_values(self.columns["facility_type"])
        inverse, (pair_keys, pair_places) = distinct_combinations([(key_codes, len(keys)), (place_codes, len(places))])
        outside = []
        for key, place in zip(pair_keys, pair_places):
            traits = self.catalog.shared_traits(keys[key]) if isinstance(keys[key], str) else None
            allowed = None if traits is None else SETTING_FACILITIES.get(traits.required_setting)
            outside.append(allowed is not None and _text_value(places[place]) not in allowed)
        return np.array(outside, dtype=bool)[inverse]

    def _per_treatment(self, read) -> np.ndarray:
        """read(SharedTraits) per claim as an object array, once per distinct key (None for an
        unlisted treatment)."""
        distinct, codes = distinct_values(self.keys)
        table = np.empty(len(distinct), dtype=object)
        for row, key in enumerate(distinct):
            traits = self.catalog.shared_traits(key) if isinstance(key, str) else None  # None: a missing key
            table[row] = None if traits is None else read(traits)
        return table[codes]


def atom_columns(atom: str) -> tuple[str, ...]:
    """The clean-frame columns a condition atom reads (_Conditions._evaluate), beside the treatment
    every rule's applicability reads. The diagnosis facts read the treatment and the codes."""
    if atom == "always":
        return ()
    if atom in ("no_covered_diagnosis", "cosmetic_encounter", "header_code"):
        return ("treatment", "diagnosis_codes")
    if atom == "benefit_exhausted":
        return ("benefit_limit", "benefit_used")
    if atom == "below_min_age":
        return ("treatment", "patient_age")
    if atom == "outside_required_setting":
        return ("treatment", "facility_type")
    kind = atom.partition(":")[0]
    if kind in ("plan", "facility", "procedure_code"):
        return ({"plan": "plan_type", "facility": "facility_type"}.get(kind, kind),)
    if kind in ("diagnosis", "no_diagnosis"):
        return ("diagnosis_codes",)
    # a condition added to the table's grammar must be named here too: fire_changed would
    # otherwise keep an outdated verdict for the claims it judges again
    raise ValueError(f"atom_columns: no columns known for the condition {atom!r}")


def _text_value(value) -> str:
    if isinstance(value, str):
        return value
    return "" if pd.isna(value) else str(value)


def _diagnosis_present(joined_codes, patterns: tuple[str, ...]) -> np.ndarray:
    """Does each claim bill one of the codes (a trailing * takes the children)? Once per distinct list."""
    distinct, index = distinct_values(joined_codes)
    found = np.array([isinstance(value, str) and any(pattern_matches(pattern, code) for code in split_codes(value)
                                                     for pattern in patterns)
                      for value in distinct], dtype=bool)
    return found[index]


def _applies_to_key(applies_to: str, key, catalog: TreatmentCatalog) -> bool:
    """Does the rule apply to a claim of this treatment key? To an unresolved key (a composite of
    candidates) only when it applies to every candidate: the claim may be any of them."""
    if applies_to == "any":
        return True
    if not isinstance(key, str):  # a missing key
        return False
    if applies_to == "cosmetic_by_default":
        keys = {t.key for t in catalog.treatments.values() if t.cosmetic_by_default}
    elif applies_to.startswith("category:"):
        keys = {t.key for t in catalog.treatments.values() if t.category == applies_to.split(":", 1)[1]}
    else:
        keys = set(applies_to.split(":", 1)[1].split("|"))
    candidates = catalog.candidates(key)
    return bool(candidates) and all(t.key in keys for t in candidates)


def parse_rules(rows, declared_version: str, table_text: str, catalog: TreatmentCatalog | None = None) -> RuleSet:
    catalog = catalog or load_catalog()
    rules, seen = [], set()
    for number, row in enumerate(rows, start=2):
        where = f"{RULES_FILE} row {number}"
        rule = Rule(**{name: (row.get(name) or "").strip() for name in Rule.__dataclass_fields__})
        if not rule.rule_id or rule.rule_id in seen:
            raise RuleTableError(f"{where}, rule_id: missing or repeated")
        for atom in rule.atoms:
            _check_condition(atom, f"{where}, condition")
        if rule.rule_class not in RULE_CLASSES:
            raise RuleTableError(f"{where}, rule_class: must be one of {', '.join(RULE_CLASSES)}")
        if not rule.carc or not rule.source or not rule.reason:
            raise RuleTableError(f"{where}: carc, reason and source are required")
        if rule.group_code is None:
            raise RuleTableError(f"{where}, carc: must be a code of {CARC_FILE}, which gives its group code")
        _check_applies_to(rule.applies_to, where, catalog)
        seen.add(rule.rule_id)
        rules.append(rule)
    return RuleSet(tuple(rules), table_version(declared_version, table_text))


def _check_condition(atom: str, where: str) -> None:
    if atom in CONDITIONS:
        return
    kind, _, value = atom.partition(":")
    allowed = {"plan": PLAN_TYPES, "facility": FACILITY_TYPES}.get(kind)
    if kind in VALUED_CONDITIONS and value and (allowed is None or set(value.split("|")) <= set(allowed)):
        return
    raise RuleTableError(f"{where}: each condition (joined by{CONDITION_SEPARATOR}) must be one of "
                         f"{', '.join(CONDITIONS)}, or {', '.join(kind + ':<value>|...' for kind in VALUED_CONDITIONS)} "
                         "(plans and facilities from the contract)")


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
    return parse_rules(*read_table(RULES_FILE, VERSION_FILE))
