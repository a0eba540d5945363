"""A claims world: visits drawn from its own mix, a payer that settles them, a history file in the
contract with its truth file, and a statement of where its payer disagrees with our tables.

Our rule and catalog tables are our reading of public policies; a payer's history disagrees in
places (coverage-facts.md, "Policies are our reading; histories are the payer's"). A world's payer
has policies of its own, `Cell`s: the share it pays for a treatment under some diagnoses of one
category (or for one rule wherever it fires), by plan type. Where our rules fire on a cell's claims, the cell is a
`Disagreement` with those rules; every other claim a rule fires on is denied but for the payer's
errors (`ERROR_SHARE`, or the world's `error_shares`): the rule is `Confirmed`. Both statements are
worked out from the world's design against today's tables (`World.disagreements`,
`World.confirmed`), so a table edit that makes a cell covered makes its disagreement go away.

A cell's share is the mean paid share of its claims: each claim's probability is its plan's
share times a factor of its paperwork with mean 1 (`MODULATION`), so documents still help.

What a diagnosis category is here matches scoring.rule_evidence: the first 3 characters
of the primary ICD-10-CM code, dotless. A cell's treatment is the treatment the claim is for,
which is the one the claim names whenever it names one; claims that carry only a code several
catalog treatments share (17999, 11900/11901, 96567) are drawn only with diagnoses under which
every reading of that code (the treatment the diagnosis points to, or the unresolved candidates)
gives the rules the same verdict.

A world reads the project's domain tables only to write valid values and to state where its payer
disagrees with them; it never imports training.demo.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.catalog import load_catalog
from features.claim_facts import diagnosis_facts
from features.contract import OUTCOME_FIELDS, PLAN_TYPES, VISIT_FIELDS
from features.diagnosis import normalise_code
from features.rules import load_rules
from tests.training.worlds.codebook import NON_MEDICAL_GROUPS, entries
from training.evaluation import TRUTH_COLUMN, default_truth_path

ERROR_SHARE = 0.005  # what a payer pays, by mistake, of the claims its exclusions deny
# Inside a cell paperwork still helps: a claim's probability is its plan's share times
# 1 + sum(coef x (field - the rate it was drawn at)), a factor whose mean is 1.
MODULATION = {"in_network": 0.15, "prior_authorization": 0.2}
PAPERWORK = ("referral", "medical_necessity_letter", "prior_authorization", "conservative_therapy_documented")
BENEFIT_RULE = "BENEFIT-001"


class Disagreement(NamedTuple):
    """Claims one of our rules excludes that the payer pays, `paid_share` of them on average."""

    rule_id: str
    treatment: str | None  # None: wherever the rule fires
    diagnosis_category: str | None  # the primary code's first 3 characters, dotless; None: any
    paid_share: float


class Confirmed(NamedTuple):
    """A rule the payer keeps: where it fires (for this treatment; None: any), outside the
    Disagreement cells, the payer pays at most its error share."""

    rule_id: str
    treatment: str | None


class DeniedThoughCovered(NamedTuple):
    """Claims under a diagnosis our catalog covers (no rule fires) that the payer hardly pays."""

    treatment: str
    diagnosis_category: str
    paid_share: float


@dataclass(frozen=True)
class Cell:
    """The payer's own policy for a treatment under some diagnosis groups (of one category), or for
    one rule wherever it fires (rule_id; no treatment, no groups): the share it pays by plan type.
    Plan types not named pay ERROR_SHARE."""

    plan_shares: Mapping[str, float]
    treatment: str | None = None
    groups: tuple[str, ...] = ()
    rule_id: str | None = None


@dataclass(frozen=True)
class BillingForm:
    """One way a claim names what was done, drawn by weight among the forms its treatment and
    diagnosis group allow."""

    weight: float
    named: bool  # the treatment key is written
    codes: tuple[str, ...] = ()  # the procedure code is one of these; () writes none
    groups: tuple[str, ...] | None = None  # only for claims of these diagnosis groups (None: any)


def _design_columns(treatments: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Rule columns of (treatment, diagnosis list) pairs alone: no plan, place, age, code or limit,
    so only the rules on treatments and diagnoses fire."""
    rows = len(treatments)
    blank = np.full(rows, "", dtype=object)
    return {"treatment": treatments, "diagnosis_codes": codes, "plan_type": blank, "facility_type": blank,
            "procedure_code": blank, "patient_age": np.full(rows, np.nan), "benefit_limit": np.full(rows, np.nan),
            "benefit_used": np.zeros(rows)}


def pick(rng: np.random.Generator, options: Mapping[str, float], n: int) -> np.ndarray:
    """n draws of the options' keys, by weight."""
    names = list(options)
    weights = np.array([options[name] for name in names], dtype=float)
    return np.array(names, dtype=object)[rng.choice(len(names), n, p=weights / weights.sum())]


def shared_or_unpaired(treatment: pd.Series, procedure_code: pd.Series) -> np.ndarray:
    """Written rows that give only a code several catalog treatments share, or a treatment with a
    code the catalog lists under another treatment: both valid in the contract (coverage-facts.md,
    "Codes that several treatments share"), both refused by the loader of commit a25715d."""
    catalog = load_catalog()
    named = treatment.fillna("").astype(str).to_numpy(dtype=object)
    codes = procedure_code.fillna("").astype(str).to_numpy(dtype=object)
    pairs, index = np.unique(np.stack([named, codes]).astype(str), axis=1, return_inverse=True)
    verdicts = []
    for given, code in pairs.T:
        owners = catalog.treatments_by_code.get(code, ())
        verdicts.append(bool(code) and ((not given and len(owners) > 1) or (bool(given) and bool(owners)
                                                                             and given not in owners)))
    return np.array(verdicts, dtype=bool)[index.ravel()]


class World:
    """A population and its payer. Subclasses set the class attributes and write `_details`
    (course, age, amount), `_limits` (benefit limits), `_model` (the payer on claims no rule and
    no cell decides) and `_written` (the file's spellings)."""

    name: str
    version: int  # bump when the files change: benchmarks cache them under name and version
    suffix: str  # ".csv" or ".parquet"
    mix: Mapping[str, float]  # treatment -> share of claims
    diagnoses: Mapping[str, Mapping[str, float]]  # treatment -> codebook group -> weight
    form_weights: tuple[float, float, float]  # named with a catalog code, named alone, own code alone
    extra_forms: Mapping[str, tuple[BillingForm, ...]] = {}
    plans: Mapping[str, float]
    facilities: Mapping[str, float]
    in_network_rates: Mapping[str, float]  # by plan type
    paperwork_rates: Mapping[str, tuple[float, float]]  # field -> (medical visit, cosmetic visit)
    office_only_share: float
    first_day: str
    days: int
    cells: tuple[Cell, ...]
    error_shares: Mapping[str, float] = {}  # rule_id -> paid share where the payer keeps it
    limited_treatments: tuple[str, ...] = ()  # whose claims may carry a benefit limit
    partial_share: float = 0.1
    paid_ratio: tuple[float, float] = (0.6, 0.3)  # of the billed amount: approved, partial

    # -- files ---------------------------------------------------------------------------------
    def file_name(self, rows: int) -> str:
        return f"{self.name}-v{self.version}-{rows}{self.suffix}"

    def write(self, path: str | Path, rows: int, seed: int) -> Path:
        """Write `rows` claims and, beside them, `<stem>.truth<suffix>` (claim_id, true approval
        probability: what `medspa-coverage train` reads); returns the path."""
        path = Path(path)
        claims = self.draw(rows, seed)
        # every contract column in its order; the patient-cost fields (contract v1.1, optional) stay
        # empty, unknown, as in a payer's file that does not state them
        written = self._written(claims, np.random.default_rng([seed, 1])).reindex(
            columns=[*VISIT_FIELDS, *OUTCOME_FIELDS])
        truth = pd.DataFrame({"claim_id": claims["claim_id"], TRUTH_COLUMN: claims["_probability"]})
        self._save(written, path)
        self._save(truth, default_truth_path(path))
        return path

    def _save(self, frame: pd.DataFrame, path: Path) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.suffix == ".parquet":
            pq.write_table(table, path)
        else:  # the header written by hand: pyarrow would quote its names
            with open(path, "wb") as out:
                out.write((",".join(frame.columns) + "\n").encode("ascii"))
                pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))

    # -- drawing and settling ------------------------------------------------------------------
    def draw(self, rows: int, seed: int) -> pd.DataFrame:
        """The claims with their true values, outcomes and (columns starting with `_`) what the
        file does not say: the treatment the claim is for, its diagnosis group, its cell, its
        true approval probability, its dotted diagnosis spelling."""
        rng = np.random.default_rng(seed)
        table = self._entry_table
        keys = list(self.mix)
        treatment_index = rng.choice(len(keys), rows, p=_normalised(list(self.mix.values())))
        group_index = np.empty(rows, dtype=np.int64)  # into table.groups
        for number, key in enumerate(keys):
            at = np.flatnonzero(treatment_index == number)
            weights = self.diagnoses[key]
            chosen = rng.choice(len(weights), len(at), p=_normalised(list(weights.values())))
            group_index[at] = np.array([table.groups.index(name) for name in weights])[chosen]
        entry = np.empty(rows, dtype=np.int64)
        for number, name in enumerate(table.groups):
            at = np.flatnonzero(group_index == number)
            first, count = table.spans[name]
            entry[at] = first + rng.integers(count, size=len(at))
        treatment = np.array(keys, dtype=object)[treatment_index]
        group = np.array(table.groups, dtype=object)[group_index]
        plan = pick(rng, self.plans, rows)
        in_network_rate = pd.Series(plan).map(self.in_network_rates).to_numpy(dtype=float)
        medical = ~np.isin(group, NON_MEDICAL_GROUPS)
        claims = pd.DataFrame({
            "claim_id": self._claim_ids(rows, seed),
            "service_date": np.sort(np.datetime64(self.first_day)
                                    + rng.integers(0, self.days, rows).astype("timedelta64[D]")),
            "treatment": treatment,
            "diagnosis_codes": table.dotless[entry],
            "plan_type": plan,
            "benefit_scope": np.where(rng.random(rows) < self.office_only_share, "office_only", "comprehensive"),
            "facility_type": pick(rng, self.facilities, rows),
            "in_network": rng.random(rows) < in_network_rate,
            "_group": group,
            "_dotted": table.dotted[entry],
            "_category": table.category[entry],
            "_rate_in_network": in_network_rate,
        })
        for name in PAPERWORK:
            rate = np.where(medical, *self.paperwork_rates[name])
            claims[name] = rng.random(rows) < rate
            claims[f"_rate_{name}"] = rate
        for name, values in self._details(claims, rng).items():
            claims[name] = values
        self._draw_forms(claims, rng)  # before settling: a rule may read the code billed
        self._settle(claims, rng)
        return claims

    def _claim_ids(self, rows: int, seed: int) -> np.ndarray:
        return np.array([f"{self.name.upper()}-{seed}-{row:07d}" for row in range(rows)], dtype=object)

    def _settle(self, claims: pd.DataFrame, rng: np.random.Generator) -> None:
        rules = load_rules()
        rows = len(claims)
        treatment = claims["treatment"].to_numpy(dtype=object)
        facts = diagnosis_facts(treatment, claims["diagnosis_codes"].to_numpy(dtype=object))
        columns = {**{name: claims[name].to_numpy() for name in ("treatment", "diagnosis_codes", "plan_type",
                                                                 "facility_type", "patient_age")},
                   "procedure_code": claims["_code_written"].to_numpy()}
        cell = self._cells_of(claims, rules.fire({**columns, "benefit_limit": np.full(rows, np.nan),
                                                  "benefit_used": np.zeros(rows)}, facts))
        limit, used = self._limits(claims, cell < 0, rng)
        claims["benefit_limit"], claims["benefit_used"] = limit, used
        fired = rules.fire({**columns, "benefit_limit": limit, "benefit_used": used}, facts)
        self._cells_of(claims, fired)  # raises if a benefit limit fell on a cell's claim
        error = np.array([self.error_shares.get(rule.rule_id, ERROR_SHARE) for rule in rules.rules])
        excluded_share = np.where(fired, error, np.inf).min(axis=1)
        model_share, model_carc = self._model(claims, facts, rng)
        plan_index = pd.Categorical(claims["plan_type"], categories=PLAN_TYPES).codes
        factor = 1.0 + sum(coef * (claims[name].to_numpy(dtype=float) - claims[f"_rate_{name}"].to_numpy())
                           for name, coef in MODULATION.items())
        cell_share = self._plan_share_table[np.maximum(cell, 0), plan_index] * factor
        probability = np.where(cell >= 0, cell_share, np.where(fired.any(axis=1), excluded_share, model_share))
        approved = rng.random(rows) < probability
        partial = approved & (rng.random(rows) < self.partial_share)
        rule_carc = np.array([rule.carc for rule in rules.rules], dtype=object)[fired.argmax(axis=1)]
        billed = claims["billed_amount"].to_numpy()
        claims["outcome"] = np.where(partial, "partial", np.where(approved, "approved", "denied"))
        claims["paid_amount"] = np.round(np.where(partial, billed * self.paid_ratio[1],
                                                  np.where(approved, billed * self.paid_ratio[0], 0.0)), 2)
        claims["denial_reason"] = np.where(partial, "45", np.where(approved, "", np.where(
            fired.any(axis=1), rule_carc, model_carc)))
        claims["_cell"] = cell
        claims["_probability"] = probability

    def _cells_of(self, claims: pd.DataFrame, fired: np.ndarray) -> np.ndarray:
        """Each claim's cell (index into `cells`), -1 for none. A claim that also fires a rule on its
        plan, place, age or code (which the design does not see) is out of the cell: the payer keeps
        that rule."""
        bits = _rule_bits(fired)
        context = sum(1 << number for number, rule in enumerate(load_rules().rules) if rule.reads_claim_context)
        cell = np.full(len(claims), -1, dtype=np.int64)
        treatment = claims["treatment"].to_numpy(dtype=object)
        group = claims["_group"].to_numpy(dtype=object)
        for number, (spec, (cell_bits, _)) in enumerate(zip(self.cells, self._cell_facts)):
            if spec.rule_id is None:
                mine = (treatment == spec.treatment) & np.isin(group, spec.groups)
            else:
                mine = (bits & cell_bits) != 0
            mine &= (bits & context & ~cell_bits) == 0
            if (bits[mine] != cell_bits).any():
                raise AssertionError(f"{self.name}: a claim of cell {number} fires other rules than the cell's")
            cell[mine & (cell < 0)] = number
        return cell

    def _draw_forms(self, claims: pd.DataFrame, rng: np.random.Generator) -> None:
        """The written treatment ("" when the claim names none) and procedure code ("" for none)."""
        keys = list(self.mix)
        treatment = pd.Categorical(claims["treatment"], categories=keys).codes
        groups = self._entry_table.groups
        group = pd.Categorical(claims["_group"], categories=groups).codes
        named = np.zeros(len(claims), dtype=bool)
        code = np.full(len(claims), "", dtype=object)
        for number, key in enumerate(keys):
            forms = self._forms(key)
            of_treatment = np.flatnonzero(treatment == number)
            for name in self.diagnoses[key]:
                at = of_treatment[group[of_treatment] == groups.index(name)]
                allowed = [form for form in forms if form.groups is None or name in form.groups]
                chosen = rng.choice(len(allowed), len(at), p=_normalised([form.weight for form in allowed]))
                for choice, form in enumerate(allowed):
                    rows = at[chosen == choice]
                    named[rows] = form.named
                    if form.codes:
                        code[rows] = np.array(form.codes, dtype=object)[rng.integers(len(form.codes), size=len(rows))]
        claims["_treatment_written"] = np.where(named, claims["treatment"].to_numpy(dtype=object), "")
        claims["_code_written"] = code

    def _forms(self, treatment: str) -> tuple[BillingForm, ...]:
        catalog = load_catalog()
        codes = catalog[treatment].procedure_codes
        own = tuple(code for code in codes if len(catalog.treatments_by_code[code]) == 1)
        both, alone, own_code = self.form_weights
        forms = [BillingForm(alone, named=True)]
        forms += [BillingForm(both, named=True, codes=codes)] if codes else []
        forms += [BillingForm(own_code, named=False, codes=own)] if own else []
        return tuple(forms) + tuple(self.extra_forms.get(treatment, ()))

    # -- hooks ---------------------------------------------------------------------------------
    def _details(self, claims: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """visit_number, weeks_since_last_treatment, patient_age, billed_amount."""
        raise NotImplementedError

    def _limits(self, claims: pd.DataFrame, eligible: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(benefit_limit, NaN for none; benefit_used): only `eligible` claims may carry a limit."""
        raise NotImplementedError

    def _model(self, claims: pd.DataFrame, facts, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(approval probability, denial CARC if denied) of claims no rule and no cell decides."""
        raise NotImplementedError

    def _written(self, claims: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """The file's columns, in its spellings."""
        raise NotImplementedError

    # -- the statement -------------------------------------------------------------------------
    @cached_property
    def _entry_table(self) -> _EntryTable:
        return _EntryTable.of(sorted({name for groups in self.diagnoses.values() for name in groups}))

    @cached_property
    def _design(self) -> pd.DataFrame:
        """Every (treatment, diagnosis list) the world draws, with the rules that fire on it."""
        table = self._entry_table
        rows = [(key, name, number) for key in self.mix for name in self.diagnoses[key]
                for number in range(table.spans[name][0], sum(table.spans[name]))]
        design = pd.DataFrame(rows, columns=["treatment", "group", "entry"])
        design["category"] = table.category[design["entry"]]
        treatments = design["treatment"].to_numpy(dtype=object)
        facts = diagnosis_facts(treatments, table.dotless[design["entry"]])
        fired = load_rules().fire(_design_columns(treatments, table.dotless[design["entry"]]), facts)
        design["bits"] = _rule_bits(fired)
        return design

    @cached_property
    def _cell_facts(self) -> tuple[tuple[int, str | None], ...]:
        """Per cell, the rules its claims fire (a bit set) and its diagnosis category. A cell's
        claims fire one set of rules and share one category, and no claim outside it shares both
        with it: so the statement's cells are exactly the payer's."""
        design, rules = self._design, load_rules()
        column = {rule.rule_id: number for number, rule in enumerate(rules.rules)}
        found = []
        for spec in self.cells:
            if spec.rule_id is not None:
                bits = 1 << column[spec.rule_id]
                if (design["bits"][(design["bits"] & bits) != 0] != bits).any():
                    raise ValueError(f"{self.name}: claims firing {spec.rule_id} fire other rules too")
                found.append((bits, None))
                continue
            mine = (design["treatment"] == spec.treatment) & design["group"].isin(spec.groups)
            sets, categories = set(design["bits"][mine]), set(design["category"][mine])
            if len(sets) != 1 or len(categories) != 1:
                raise ValueError(f"{self.name}: cell {spec.treatment} x {spec.groups} must draw claims of one "
                                 "category that fire one set of rules")
            bits, category = sets.pop(), categories.pop()
            twins = ~mine & (design["treatment"] == spec.treatment) & (design["category"] == category) \
                & (design["bits"] == bits)
            if bits and twins.any():
                raise ValueError(f"{self.name}: cell {spec.treatment} x {category} leaves out claims that fire "
                                 "the same rules in the same category")
            found.append((bits, category))
        return tuple(found)

    @cached_property
    def _plan_share_table(self) -> np.ndarray:
        return np.array([[spec.plan_shares.get(plan, ERROR_SHARE) for plan in PLAN_TYPES] for spec in self.cells]
                        ).reshape(len(self.cells), len(PLAN_TYPES))

    def _mean_share(self, spec: Cell) -> float:
        total = sum(self.plans.values())
        return round(sum(weight / total * spec.plan_shares.get(plan, ERROR_SHARE)
                         for plan, weight in self.plans.items()), 4)

    @cached_property
    def disagreements(self) -> tuple[Disagreement, ...]:
        rules = load_rules().rules
        found = []
        for spec, (bits, category) in zip(self.cells, self._cell_facts):
            for number, rule in enumerate(rules):
                if bits & (1 << number):
                    found.append(Disagreement(rule.rule_id, spec.treatment, category, self._mean_share(spec)))
        return tuple(found)

    @cached_property
    def denied_though_covered(self) -> tuple[DeniedThoughCovered, ...]:
        return tuple(DeniedThoughCovered(spec.treatment, category, self._mean_share(spec))
                     for spec, (bits, category) in zip(self.cells, self._cell_facts) if not bits)

    @cached_property
    def confirmed(self) -> tuple[Confirmed, ...]:
        design, rules = self._design, load_rules().rules
        outside = np.ones(len(design), dtype=bool)
        for spec, (bits, _) in zip(self.cells, self._cell_facts):
            if spec.rule_id is None:
                mine = (design["treatment"] == spec.treatment) & design["group"].isin(spec.groups)
            else:
                mine = (design["bits"] & bits) != 0
            outside &= ~mine.to_numpy()
        disagreed = {item.rule_id for item in self.disagreements}
        found = []
        for number, rule in enumerate(rules):
            fires = (design["bits"].to_numpy() & (1 << number)) != 0
            treatments = list(dict.fromkeys(design["treatment"][fires & outside]))
            if rule.rule_id == BENEFIT_RULE:
                treatments += [key for key in self.limited_treatments if key not in treatments]
            if not treatments:
                continue
            if rule.rule_id in disagreed:
                found += [Confirmed(rule.rule_id, key) for key in self.mix if key in treatments]
            else:
                found.append(Confirmed(rule.rule_id, None))
        return tuple(found)

    def stated_share(self, rule_id: str, treatment: str, category: str) -> float:
        """The paid share the statement gives claims this rule fires on, for this treatment and
        primary diagnosis category: a Disagreement's, or the payer's error share."""
        for item in self.disagreements:
            if item.rule_id == rule_id and item.treatment in (treatment, None) \
                    and item.diagnosis_category in (category, None):
                return item.paid_share
        return self.error_shares.get(rule_id, ERROR_SHARE)


@dataclass(frozen=True)
class _EntryTable:
    """Every diagnosis list of the groups a world draws: both spellings and primary category."""

    groups: list[str]
    spans: dict[str, tuple[int, int]]  # group -> (first entry, entry count)
    dotless: np.ndarray
    dotted: np.ndarray
    category: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, groups: list[str]) -> _EntryTable:
        spans, lists = {}, []
        for name in groups:
            spans[name] = (len(lists), len(entries(name)))
            lists += entries(name)
        dotless = np.array([";".join(normalise_code(code) for code in codes) for codes in lists], dtype=object)
        dotted = np.array([";".join(codes) for codes in lists], dtype=object)
        category = np.array([normalise_code(codes[0])[:3] if codes else "" for codes in lists], dtype=object)
        return cls(groups, spans, dotless, dotted, category)


def _rule_bits(fired: np.ndarray) -> np.ndarray:
    return fired.astype(np.int64) @ (1 << np.arange(fired.shape[1], dtype=np.int64))


def _normalised(weights: list[float]) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    return weights / weights.sum()
