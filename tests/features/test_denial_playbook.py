"""The denial playbook's tables: a step with a source for every CARC, deadlines for every plan type,
and no appeal of what the patient is liable for."""
from __future__ import annotations

import pytest

from features.carc import carc_descriptions
from features.contract import PLAN_TYPES
from features.denial_playbook import (APPEAL_STEPS, BILL_PATIENT, GROUP_CODES, STEPS, WRITE_OFF,
                                      load_appeal_deadlines, load_playbook, step_for_group)

# Exclusions the patient chose: the coverage facts say these are billed to the patient, never appealed.
PATIENT_EXCLUSIONS = ("96", "202", "204", "270")


def test_every_carc_of_the_code_list_has_one_step_with_a_source():
    playbook = load_playbook()
    assert set(playbook) == set(carc_descriptions())
    for carc, row in playbook.items():
        assert row.step in STEPS and row.instruction and "X12 CARC" in row.source, carc


@pytest.mark.parametrize("carc", PATIENT_EXCLUSIONS)
@pytest.mark.parametrize("group_code", list(GROUP_CODES))
def test_an_exclusion_is_never_appealed_and_billed_to_the_patient_only_under_pr(carc, group_code):
    step = step_for_group(load_playbook()[carc].step, group_code)
    assert step not in APPEAL_STEPS
    assert step == (BILL_PATIENT if group_code == "PR" else WRITE_OFF)


@pytest.mark.parametrize("carc, step", [("146", "corrected_claim"), ("16", "corrected_claim"),
                                        ("11", "corrected_claim"), ("167", "corrected_claim"),
                                        ("197", "retro_authorization"), ("50", "appeal_with_letter"),
                                        ("252", "appeal_with_letter"), ("151", "resubmit_after_interval")])
def test_the_issue_s_steps_for_coding_authorization_and_necessity_denials(carc, step):
    assert load_playbook()[carc].step == step


def test_every_plan_type_has_an_appeal_limit_and_medicare_s_are_the_regulation_s():
    deadlines = load_appeal_deadlines()
    assert set(deadlines) == set(PLAN_TYPES)
    assert deadlines["medicare"].appeal_days == 120 and deadlines["medicare"].corrected_claim_months == 12
    assert "42 CFR 405.942" in deadlines["medicare"].source
    assert all(deadline.source for deadline in deadlines.values())
