"""PolicyEncoder: plan type and benefit scope one-hot, in network 0/1."""
import pytest

from features.encoders import PolicyEncoder


@pytest.mark.parametrize("claim, expected", [
    ({"plan_type": "hmo", "benefit_scope": "office_only", "in_network": False},
     {"plan_type_hmo": 1, "plan_type_ppo": 0, "benefit_scope_office_only": 1, "benefit_scope_comprehensive": 0,
      "in_network": 0}),
    ({"plan_type": "medicare_advantage", "benefit_scope": "comprehensive", "in_network": True},
     {"plan_type_medicare_advantage": 1, "plan_type_medicare": 0, "benefit_scope_comprehensive": 1,
      "in_network": 1}),
])
def test_policy_encoder_one_hots_plan_and_scope(make_clean_frame, encode, claim, expected):
    row = encode(PolicyEncoder(), make_clean_frame(claim))
    assert {name: row[name] for name in expected} == expected
