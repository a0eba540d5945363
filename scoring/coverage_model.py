"""The model as served: hard rules + calibrated classifier + denial reasons, in one object.

Batch callers use `score_frame` (a DataFrame in, one row out per claim). The service uses
`answer_claims` (canonical claim dicts in, full answers out), which never builds a DataFrame: the
claims and all their what-if variants are encoded as plain arrays and scored in one call. Both
work out the claims' diagnosis facts once, for the rules, and hand them to the features.

Which rules are hard is the training history's word (scoring.rule_evidence): a rule the
payer's history contradicts for a treatment (or diagnosis category) is an input of the
classifier there (`rule__<id>`, 1 where it fires, constrained never to raise the probability),
and a claim a hard rule excludes gets the rule's smoothed paid share in the history.
Persistence is skops (no bare pickle) plus a JSON metadata file, with the served form beside them
(scoring.served_form): the same model as arrays and JSON, loaded without skops or scikit-learn.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import asdict, field, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from common.digests import file_sha256

from features.claim_facts import DiagnosisFacts, columns_facts, facts_of_rows, frame_to_columns
from features.pipeline import encode_changed_claims, encode_claims, encode_claims_into, outputs_reading
from features.rules import load_rules
from scoring import advice
from scoring.decisions import EXCLUDED, LIKELY_APPROVED, LIKELY_DENIED, UNCERTAIN
from scoring.params import ModelParams
from scoring.patient_cost import with_patient_cost
from scoring.explanation import Explainer
from scoring.rule_evidence import RULE_INPUT_PREFIX, EvidenceParams, RuleEvidence, primary_categories
from scoring.judgement import RuleJudgement, ScoredRows, rule_input_columns
from scoring.places import in_medical_setting
from scoring.served_form import read_served_form, write_served_form
from scoring.tree_scoring import CompiledForest, LinearSoftmax, isotonic_map
from scoring.trusted_types import UntrustedTypesError, trusted_type

MODEL_FILE = "model.skops"
SPA = "medical_spa"
TWIN_COLUMN = "facility_type"  # the one column in which a claim's spa twin differs from it (_spa_twins)
# One row per claim from score_frame: what batch scoring, the pyfunc and /invocations return.
SCORE_COLUMNS = ("approval_probability", "model_probability", "decision", "excluded", "rule_ids",
                 "top_denial_reason")
METADATA_FILE = "metadata.json"
@dataclass
class CoverageModel:
    params: ModelParams = field(default_factory=ModelParams)
    feature_pipeline: object = None
    feature_names: list = field(default_factory=list)
    classifier: object = None
    calibrator: object = None
    denial_model: object = None
    denial_classes: list = field(default_factory=list)
    training_profile: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    rule_evidence: RuleEvidence | None = None  # None: no history, every rule hard
    _compiled_cache: tuple | None = field(default=None, repr=False, compare=False)
    _explainer_cache: Explainer | None = field(default=None, repr=False, compare=False)
    _rule_inputs_cache: tuple | None = field(default=None, repr=False, compare=False)

    # -- rules -------------------------------------------------------------------------------
    def fired_rules(self, columns: dict[str, np.ndarray], facts: DiagnosisFacts | None = None) -> np.ndarray:
        """Claims x rules boolean matrix of every rule whose condition holds, hard or learned.
        facts: columns_facts(columns), when the caller has them (computed once for rules and features)."""
        facts = columns_facts(columns) if facts is None else facts
        return load_rules().fire(columns, facts)

    def evidence(self) -> RuleEvidence:
        if self.rule_evidence is None:
            self.rule_evidence = RuleEvidence(load_rules(), EvidenceParams(), {})
        return self.rule_evidence

    def judge(self, columns: dict[str, np.ndarray], facts: DiagnosisFacts | None = None) -> "RuleJudgement":
        """Which rules fire, which of them are hard for these claims, and what an excluded claim gets."""
        facts = columns_facts(columns) if facts is None else facts
        fired = self.fired_rules(columns, facts)
        categories = primary_categories(columns["diagnosis_codes"])
        hard, shares = self.evidence().judge(fired, columns["treatment"], categories)
        return RuleJudgement(facts, fired, hard, self.evidence().excluded_probability(hard, shares), categories)

    def excluded(self, claims: pd.DataFrame) -> np.ndarray:
        return self.judge(frame_to_columns(claims)).excluded

    def system_probability(self, judged: "RuleJudgement", model_probability: np.ndarray,
                           columns: dict[str, np.ndarray], threads: int | None = None) -> np.ndarray:
        """The answer: an excluded claim's smoothed paid share, else the classifier's probability,
        never below what the claim's excluded twin would get (see scoring.rule_evidence), and at a
        doctor's office or clinic never below the same claim at a medical spa (medical_setting_floor)."""
        probability = self._probability_with_rule_floor(judged, model_probability, columns)
        return np.maximum(probability, self.medical_setting_floor(columns, judged, threads))

    def _probability_with_rule_floor(self, judged: "RuleJudgement", model_probability: np.ndarray,
                                     columns: dict[str, np.ndarray]) -> np.ndarray:
        kept = ~judged.excluded  # only these need their twin's floor: batch files exclude most claims
        probability = judged.excluded_probability.copy()
        if not kept.any():  # a single excluded claim's answer, say: no floor to work out
            return probability
        floor = self.evidence().floor(columns["treatment"][kept], judged.categories[kept],
                                      ~np.isnan(np.asarray(columns["benefit_limit"], dtype=float)[kept]))
        probability[kept] = np.maximum(np.asarray(model_probability)[kept], floor)
        return probability

    def medical_setting_floor(self, columns: dict[str, np.ndarray], judged: "RuleJudgement",
                              threads: int | None = None) -> np.ndarray:
        """Per claim, what the same claim would get at a medical spa, for claims no hard rule excludes
        at a physician office, dermatology clinic or primary-care clinic (0 elsewhere).

        No payer pays a spa more readily than a doctor's office for the same service (spa and
        esthetician edits, CARC 170/171, only ever cut the other way), yet a model fitted to a
        sparse cell can learn the reverse from noise. A monotone constraint on a "medical setting"
        input would not hold it: the facility's one-hot columns and their interactions can undo
        it. So the answer is post-checked: the claim's spa twin is scored too (rules, classifier,
        rule floor) and the claim gets at least that.
        """
        floor = np.zeros(len(judged.excluded))
        rows, twins, twin_judged = self._spa_twins(columns, judged)
        if not len(rows):
            return floor
        twin_model = self.probability_from_features(self.encode(twins, twin_judged.facts, twin_judged.fired), threads)
        floor[rows] = self._probability_with_rule_floor(twin_judged, twin_model, twins)
        return floor

    def _spa_twins(self, columns: dict[str, np.ndarray], judged: "RuleJudgement") -> tuple:
        """(the rows medical_setting_floor compares with a spa, their spa twins' columns, the twins' judgement)."""
        rows = np.flatnonzero(in_medical_setting(columns["facility_type"]) & ~judged.excluded)
        twins = {name: values[rows] for name, values in columns.items()}
        twins[TWIN_COLUMN] = np.full(len(rows), SPA, dtype=object)
        if not len(rows):  # nothing to judge (None: no judgement)
            return rows, twins, None
        # the diagnosis facts and the primary category read the treatment and the codes alone: the
        # twin's are its claim's, and only the rules that read the facility are judged again
        facts, categories = facts_of_rows(judged.facts, rows), judged.categories[rows]
        fired = load_rules().fire_changed(twins, facts, judged.fired[rows], (TWIN_COLUMN,))
        hard, shares = self.evidence().judge(fired, twins["treatment"], categories)
        return rows, twins, RuleJudgement(facts, fired, hard, self.evidence().excluded_probability(hard, shares),
                                          categories)

    def score_rows(self, columns: dict[str, np.ndarray], leading: "RuleJudgement | None" = None) -> "ScoredRows":
        """The served probability of few claims (one claim and its what-if variants) with every
        twin medical_setting_floor needs judged, encoded and scored in the SAME pass: one rules
        pass, one encoding, one walk of the trees, rather than a second round for the twins. Each
        step is row by row, so the numbers are system_probability's (tested against score_frame).

        leading: the judgement of the first rows, when the caller judged them already (scoring.advice
        judges a request's claims before making their what-ifs): they are not judged again, and
        those a hard rule excludes get no spa twin (an excluded claim takes no floor from it)."""
        rows = len(columns["treatment"])
        known = 0 if leading is None else len(leading.excluded)
        setting = in_medical_setting(columns["facility_type"])
        if known:
            setting = setting & np.concatenate([~leading.excluded, np.ones(rows - known, dtype=bool)])
        twins = np.flatnonzero(setting)
        both = columns
        if len(twins):
            both = {name: np.concatenate([values, np.asarray(values)[twins]]) for name, values in columns.items()}
            both["facility_type"][rows:] = SPA
        if not known:
            judged = self.judge(both)
        elif known == rows + len(twins):
            judged = leading
        else:
            judged = leading.followed_by(self.judge({name: values[known:] for name, values in both.items()}))
        features = self.encode(both, judged.facts, judged.fired)
        raw = self._compiled()[0].raw(features)
        model_probability = self.probability_from_log_odds(raw)
        claims_judged = judged.of_rows(np.arange(rows)) if len(twins) else judged
        probability = self._probability_with_rule_floor(claims_judged, model_probability[:rows], columns)
        kept = ~claims_judged.excluded[twins]
        if kept.any():  # the twins of claims no hard rule excludes: the floor of their own claim
            twin_rows = rows + np.flatnonzero(kept)
            twin_columns = {name: values[twin_rows] for name, values in both.items()}
            floor = self._probability_with_rule_floor(judged.of_rows(twin_rows), model_probability[twin_rows],
                                                      twin_columns)
            probability[twins[kept]] = np.maximum(probability[twins[kept]], floor)
        return ScoredRows(claims_judged, features[:rows], raw[:rows], model_probability[:rows], probability)

    @property
    def rule_inputs(self) -> list[str]:
        """The rules the classifier reads as inputs (learned somewhere in the training history).
        Worked out once per list of feature names: every encoding reads it, and the names are hundreds."""
        names, cached = self.feature_names, getattr(self, "_rule_inputs_cache", None)
        if cached is None or cached[0] is not names or cached[1] != len(names):
            cached = self._rule_inputs_cache = (names, len(names), [
                name[len(RULE_INPUT_PREFIX):] for name in names if name.startswith(RULE_INPUT_PREFIX)])
        return cached[2]

    # -- model -------------------------------------------------------------------------------
    def encode(self, claims: pd.DataFrame | dict, facts: DiagnosisFacts | None = None,
               fired: np.ndarray | None = None) -> np.ndarray:
        """The feature matrix. facts and fired: the claims' columns_facts and fired rules, when the
        caller already has them."""
        columns = claims if isinstance(claims, dict) else frame_to_columns(claims)
        features = np.asarray(encode_claims(self.feature_pipeline, columns, facts), dtype=np.float32)
        rule_inputs = self.rule_inputs
        if not rule_inputs:
            return features
        fired = self.fired_rules(columns, facts) if fired is None else fired
        return np.hstack([features, rule_input_columns(fired, rule_inputs)])

    def _encode_batch(self, columns: dict, facts: DiagnosisFacts, fired: np.ndarray) -> np.ndarray:
        """encode(columns, facts, fired) of a batch chunk, its matrix written in place once."""
        rule_inputs = self.rule_inputs
        features = encode_claims_into(self.feature_pipeline, columns, facts, len(rule_inputs))
        if rule_inputs:
            features[:, features.shape[1] - len(rule_inputs):] = rule_input_columns(fired, rule_inputs)
        return features

    def _encode_twins(self, encoded: np.ndarray, rows: np.ndarray, twins: dict, twin_judged: "RuleJudgement") -> tuple:
        """(the spa twins' feature rows, the columns in which they may differ from their claims'),
        from their claims' rows `rows` of `encoded`: only what reads the facility is worked out again
        (the encoders reading it, the rule inputs), the rest copied."""
        features = encode_changed_claims(self.feature_pipeline, twins, encoded, rows, (TWIN_COLUMN,))
        width = features.shape[1] - len(self.rule_inputs)
        if self.rule_inputs:
            features[:, width:] = rule_input_columns(twin_judged.fired, self.rule_inputs)
        may_differ = np.concatenate([outputs_reading(self.feature_pipeline, (TWIN_COLUMN,)),
                                     np.arange(width, features.shape[1])])
        return features, may_differ

    def probability_from_features(self, features: np.ndarray, threads: int | None = None) -> np.ndarray:
        return self.probability_from_log_odds(self._compiled()[0].raw(features, threads))

    def probability_from_log_odds(self, raw: np.ndarray) -> np.ndarray:
        """The calibrated classifier probability of the trees' raw scores (log-odds)."""
        return np.clip(isotonic_map(self.calibrator, 1.0 / (1.0 + np.exp(-raw))), 0.0, 1.0)

    def _compiled(self) -> tuple:
        """The classifier and denial model as plain arrays, built once per loaded model."""
        if getattr(self, "_compiled_cache", None) is None:
            denial = LinearSoftmax.from_pipeline(self.denial_model) if self.denial_model is not None else None
            self._compiled_cache = (CompiledForest.from_classifier(self.classifier), denial)
        return self._compiled_cache

    def explainer(self) -> Explainer:
        """The classifier's explainer, built on first use: a batch job that never explains never
        pays for its TreeSHAP tables."""
        if getattr(self, "_explainer_cache", None) is None:
            self._explainer_cache = Explainer(self._compiled()[0], self.feature_names, self.probability_from_log_odds)
        return self._explainer_cache

    def served_probability(self, claims: pd.DataFrame) -> np.ndarray:
        """The answer's approval probability for every claim, without the denial reasons' cost
        (what plots and reviews show)."""
        columns = frame_to_columns(claims)
        judged = self.judge(columns)
        model_probability = self.probability_from_features(self.encode(columns, judged.facts, judged.fired))
        return self.system_probability(judged, model_probability, columns)

    def model_probability(self, claims: pd.DataFrame | dict) -> np.ndarray:
        """The calibrated classifier alone, ignoring the rules."""
        return self.probability_from_features(self.encode(claims))

    def denial_reason_matrix(self, features: np.ndarray, fill_in_place: bool = False) -> np.ndarray:
        """P(CARC | denied), claims x denial_classes. fill_in_place: LinearSoftmax.probability's."""
        if self._compiled()[1] is None:  # no denial model (a served form holds its compiled map alone)
            return np.full((len(features), len(self.denial_classes)), 1.0 / max(len(self.denial_classes), 1))
        return self._compiled()[1].probability(features, fill_in_place)

    def denial_reason_probabilities(self, claims: pd.DataFrame | dict | np.ndarray) -> pd.DataFrame:
        """P(CARC | denied) per claim; columns are CARC codes (plus `other`)."""
        features = claims if isinstance(claims, np.ndarray) else self.encode(claims)
        return pd.DataFrame(self.denial_reason_matrix(features), columns=self.denial_classes)

    def decide(self, probability: np.ndarray, excluded: np.ndarray, likely_approved: float | None = None,
               likely_denied: float | None = None) -> np.ndarray:
        likely_approved = self.params.likely_approved_threshold if likely_approved is None else likely_approved
        likely_denied = self.params.likely_denied_threshold if likely_denied is None else likely_denied
        decision = np.where(probability >= likely_approved, LIKELY_APPROVED,
                            np.where(probability < likely_denied, LIKELY_DENIED, UNCERTAIN))
        return np.where(excluded, EXCLUDED, decision).astype(object)

    def score_frame(self, claims: pd.DataFrame, threads: int | None = None) -> pd.DataFrame:
        """Batch scoring: the whole system (rules + model) as it serves, one row per claim.

        Only claims no hard rule excludes reach the classifier and the denial model (their
        `model_probability` is NaN otherwise): in demo history that skips three claims in five.
        `threads` lets a batch job use every core for the trees; the service leaves it None,
        since each gunicorn worker must keep native pools at one thread.
        """
        columns = frame_to_columns(claims)
        judged = self.judge(columns)
        excluded = judged.excluded
        kept = np.flatnonzero(~excluded)
        model_probability = np.full(len(claims), np.nan)
        top_reason = np.full(len(claims), "", dtype=object)
        setting_floor = np.zeros(len(claims))  # medical_setting_floor, its twins walked with their claims
        if len(kept):
            kept_columns = {name: values[kept] for name, values in columns.items()}
            features = self._encode_batch(kept_columns, facts_of_rows(judged.facts, kept), judged.fired[kept])
            twin_rows, twins, twin_judged = self._spa_twins(columns, judged)
            if len(twin_rows):
                twin_of_kept = np.full(len(kept), -1, dtype=np.int64)
                kept_of_twin = np.searchsorted(kept, twin_rows)  # twins' rows are kept
                twin_of_kept[kept_of_twin] = np.arange(len(twin_rows))
                twin_features, may_differ = self._encode_twins(features, kept_of_twin, twins, twin_judged)
                raw, twin_raw = self._compiled()[0].raw_with_twins(features, twin_features, twin_of_kept, threads,
                                                                   may_differ)
                setting_floor[twin_rows] = self._probability_with_rule_floor(
                    twin_judged, self.probability_from_log_odds(twin_raw), twins)
            else:
                raw = self._compiled()[0].raw(features, threads)
            model_probability[kept] = self.probability_from_log_odds(raw)
            if self.denial_classes:
                with threadpool_limits(limits=threads) if threads else nullcontext():  # BLAS matmul
                    reasons = self.denial_reason_matrix(features, fill_in_place=True)  # the last use of features
                top_reason[kept] = np.asarray(self.denial_classes, dtype=object)[reasons.argmax(axis=1)]
        # system_probability, with the medical-setting floor worked out above
        probability = np.maximum(self._probability_with_rule_floor(judged, np.nan_to_num(model_probability), columns),
                                 setting_floor)
        rules = load_rules().rules
        rule_carc = np.array([rule.carc for rule in rules], dtype=object)
        top_reason = np.where(excluded, rule_carc[judged.hard.argmax(axis=1)], top_reason)
        # Claims share few combinations of hard rules: name each combination once.
        bits = np.zeros(len(claims), dtype=np.int64)
        for column in range(len(rules)):  # shifts, not an integer matrix product (which has no BLAS)
            bits |= judged.hard[:, column].astype(np.int64) << column
        inverse, patterns = pd.factorize(bits)  # hashed: the order of the patterns does not matter
        names = np.array([";".join(rule.rule_id for i, rule in enumerate(rules) if pattern >> i & 1)
                          for pattern in patterns], dtype=object)
        rule_ids = names[inverse]
        return pd.DataFrame({
            "approval_probability": probability,
            "model_probability": model_probability,
            "decision": self.decide(probability, excluded),
            "excluded": excluded,
            "rule_ids": rule_ids,
            "top_denial_reason": top_reason,
        }, index=claims.index)

    def answer_claims(self, claims: list[dict], likely_approved: float | None = None,
                      likely_denied: float | None = None, explain: bool = True) -> list[dict]:
        """Full answers (decision, rules, reasons, factors, advice, CRD coverage, payment, patient cost).
        explain=False leaves out the exact factors (TreeSHAP), the costliest part of an answer."""
        return with_patient_cost(claims, advice.answer_claims(self, claims, likely_approved, likely_denied, explain))

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """model.skops (the estimators), the served form taken from them, metadata.json."""
        import skops.io

        if self.classifier is None:  # loaded from its served form (load_served)
            raise ValueError("a model loaded without its estimators cannot be saved: CoverageModel.load it")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        estimators = {"feature_pipeline": self.feature_pipeline, "classifier": self.classifier,
                      "calibrator": self.calibrator, "denial_model": self.denial_model}
        skops.io.dump(estimators, directory / MODEL_FILE)
        write_served_form(directory, file_sha256(directory / MODEL_FILE), self.feature_pipeline, self.calibrator,
                          *self._compiled())
        metadata = {"params": asdict(self.params), "feature_names": self.feature_names,
                    "denial_classes": self.denial_classes, "training_profile": self.training_profile,
                    "rules_version": load_rules().version, **self.metadata}
        if self.rule_evidence is not None:
            metadata["rule_evidence"] = {"params": asdict(self.rule_evidence.params),
                                         "rows": self.rule_evidence.to_rows()}
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "CoverageModel":
        """The model with its estimators, from model.skops (types checked first) and metadata.json."""
        import skops.io

        directory = Path(directory)
        untrusted = skops.io.get_untrusted_types(file=directory / MODEL_FILE)
        refused = [name for name in untrusted if not trusted_type(name)]
        if refused:
            raise UntrustedTypesError(f"model file holds types outside the trusted packages' classes: {refused}")
        estimators = skops.io.load(directory / MODEL_FILE, trusted=untrusted)
        return cls._with_metadata(directory, **estimators)

    @classmethod
    def load_served(cls, directory: str | Path, model_sha256: str) -> "CoverageModel | None":
        """The model as it scores, without estimators, skops or sklearn (the same numbers); None unless its
        served form was taken from the model.skops of `model_sha256` (the caller's verified digest)."""
        if (parts := read_served_form(Path(directory), model_sha256)) is None:
            return None
        model = cls._with_metadata(directory, feature_pipeline=parts.feature_pipeline, calibrator=parts.calibrator)
        model._compiled_cache = (parts.forest, parts.denial)
        return model

    @classmethod
    def _with_metadata(cls, directory: str | Path, **estimators) -> "CoverageModel":
        metadata = json.loads((Path(directory) / METADATA_FILE).read_text())
        evidence = metadata.pop("rule_evidence", None)
        rule_evidence = (RuleEvidence.from_rows(load_rules(), evidence["rows"], evidence["params"])
                         if evidence is not None else None)
        return cls(params=ModelParams(**metadata.pop("params")), feature_names=metadata.pop("feature_names"),
                   denial_classes=metadata.pop("denial_classes"), training_profile=metadata.pop("training_profile"),
                   metadata=metadata, rule_evidence=rule_evidence, **estimators)
