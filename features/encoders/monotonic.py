"""The outputs the approval probability may only rise (or only fall) with: training gives them
monotonic +1 (-1) constraints."""

# Single 0/1 outputs, named as build_feature_pipeline (features.pipeline) prefixes them with the
# encoder's step.
MONOTONIC_INCREASING_FEATURES = (
    "circumstance__prior_authorization",
    "circumstance__referral",
    "circumstance__medical_necessity_letter",
    "circumstance__conservative_therapy_documented",
    "policy__in_network",
    "diagnosis__covered_diagnosis",
    "circumstance__prior_authorization_where_required",
    "circumstance__conservative_therapy_where_required",
    # more benefit left (features.contract.BENEFIT_REMAINING) never lowers the probability
    "circumstance__benefit_remaining",
    "circumstance__benefit_remaining_fraction",
)
MONOTONIC_DECREASING_FEATURES = (
    "circumstance__benefit_exhausted",
)
