"""The outputs the approval probability may only rise with: training gives them monotonic +1 constraints."""

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
)
