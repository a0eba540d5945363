"""The champion/challenger gate: the challenger replaces the champion when, on the same new test
split, its AUC is at most `max_auc_drop` below the champion's and its ECE at most `max_ece_rise`
above it (defaults 0.005 each), or when there is no champion, or when the champion can no longer
be loaded by this code (then nothing could serve it). The champion may have trained on some of
these test claims, which can only flatter it, so the gate errs on the side of keeping it.

Aliases (stages are deprecated): `champion` is moved only by the gate; `previous` is the
champion the last promotion replaced (the rollback target).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scoring.artifacts import ModelIntegrityError, load_model, version_for_alias
from scoring.mlflow_store import CHAMPION, PREVIOUS, REGISTERED_MODEL, alias_uri
from training.evaluation import system_metrics


@dataclass
class GateParams:
    max_auc_drop: float = 0.005
    max_ece_rise: float = 0.005


@dataclass
class GateDecision:
    decision: str  # promoted | kept_champion | skipped
    reason: str
    champion_version: str | None = None  # the champion before this run
    champion_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.decision == "promoted"


@dataclass(frozen=True)
class GateRule:
    """One rule of the gate: how much worse than the champion the challenger may be on a metric."""

    metric: str  # a training.evaluation.binary_metrics key
    label: str
    higher_is_better: bool
    margin: float

    def loss(self, challenger, champion):
        """How much worse the challenger is (positive: worse); works on arrays too."""
        return champion - challenger if self.higher_is_better else challenger - champion

    def allows(self, loss: float) -> bool:
        return bool(loss <= self.margin)  # a NaN fails

    @property
    def statement(self) -> str:
        return f"{self.label} may {'drop' if self.higher_is_better else 'rise'} at most {self.margin}"


def gate_rules(params: GateParams) -> tuple[GateRule, ...]:
    """The gate's rules, in the order it reports them (the review notebook applies the same)."""
    return (GateRule("auc", "AUC", True, params.max_auc_drop), GateRule("ece", "ECE", False, params.max_ece_rise))


def decide_promotion(challenger: dict[str, float], champion: dict[str, float] | None,
                     params: GateParams, champion_version: str | None = None) -> GateDecision:
    """Compare test AUC and ECE of challenger and champion on the same claims (`gate_rules`)."""
    if champion is None:
        return GateDecision("promoted", "no champion yet")
    numbers = (f"AUC {challenger['auc']:.4f} vs champion v{champion_version} {champion['auc']:.4f}, "
               f"ECE {challenger['ece']:.4f} vs {champion['ece']:.4f}")
    failures = []
    for rule in gate_rules(params):
        loss = rule.loss(challenger[rule.metric], champion[rule.metric])
        if not rule.allows(loss):
            failures.append(f"{rule.label} {'drops' if rule.higher_is_better else 'rises'} {loss:.4f} > {rule.margin}")
    if failures:
        return GateDecision("kept_champion", f"{'; '.join(failures)} ({numbers})", champion_version, champion)
    return GateDecision("promoted", f"within margins ({numbers})", champion_version, champion)


def score_champion(client, test: pd.DataFrame, registered_model: str = REGISTERED_MODEL):
    """(champion version, its test metrics) or (None, None) without a champion.

    A champion this code cannot load or score yields metrics None and the reason in `error`. A
    champion whose files differ from its manifest raises ModelIntegrityError: someone changed the
    artifact store, and promoting over it would let a worse challenger past the gate unmeasured.
    """
    version = version_for_alias(client, registered_model, CHAMPION, missing_ok=True)
    if version is None:
        return None, None, None
    try:
        champion = load_model(alias_uri(CHAMPION, registered_model), client.tracking_uri).model
        return str(version.version), system_metrics(champion, test), None
    except ModelIntegrityError:
        raise
    except Exception as error:  # noqa: BLE001  (any other failure means the champion cannot serve)
        return str(version.version), None, f"{type(error).__name__}: {error}"


def gate(client, version: str, challenger_metrics: dict[str, float], test: pd.DataFrame,
         params: GateParams, promote: bool = True, registered_model: str = REGISTERED_MODEL) -> GateDecision:
    """Decide and apply: move aliases, tag the model version. The caller logs it to the run."""
    if not promote:
        current = version_for_alias(client, registered_model, CHAMPION, missing_ok=True)
        decision = GateDecision("skipped", "--no-promote: the gate did not run",
                                str(current.version) if current else None)
    else:
        champion_version, champion_metrics, error = score_champion(client, test, registered_model)
        if champion_version is not None and champion_metrics is None:
            decision = GateDecision("promoted", f"champion v{champion_version} cannot be loaded or scored "
                                                f"by this code ({error})", champion_version)
        else:
            decision = decide_promotion(challenger_metrics, champion_metrics, params, champion_version)
    if decision.promoted:
        if decision.champion_version is not None and decision.champion_version != version:
            client.set_registered_model_alias(registered_model, PREVIOUS, decision.champion_version)
        client.set_registered_model_alias(registered_model, CHAMPION, version)
    for key, value in gate_tags(decision).items():
        client.set_model_version_tag(registered_model, version, key, value)
    return decision


def gate_tags(decision: GateDecision) -> dict[str, str]:
    tags = {"gate_decision": decision.decision, "gate_reason": decision.reason[:5000],
            "gate_champion_before": decision.champion_version or "none"}
    tags.update({f"gate_champion_test_{name}": f"{value:.6f}" for name, value in decision.champion_metrics.items()
                 if name in ("auc", "ece", "brier")})
    return tags


def gate_metrics(decision: GateDecision) -> dict[str, float]:
    metrics = {"gate_promoted": float(decision.promoted)}
    metrics.update({f"gate_champion_test_{name}": float(value) for name, value in decision.champion_metrics.items()
                    if not np.isnan(value)})
    return metrics
