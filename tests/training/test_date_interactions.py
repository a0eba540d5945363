"""The teachers' service date meets only the columns a payer's policy is written on."""
import numpy as np

from training.date_interactions import code_column_inputs, date_interaction_groups
from training.model_fitting import PLAN_TREATMENT, _with_category_codes

NAMES = ["treatment__botulinum_toxin", "treatment__massage_therapy", "treatment__procedure_code_97124",
         "policy__plan_type_ppo", "policy__plan_type_hmo", "policy__in_network",
         "diagnosis__covered_diagnosis", "circumstance__prior_authorization", "circumstance__referral",
         "circumstance__medical_necessity_letter", "circumstance__facility_type_medical_spa",
         "circumstance__facility_type_physician_office", "time__service_year", "rule__COSMETIC-001"]
BLOCKS = {"treatment__treatment": np.array([0, 1]), "treatment__procedure_code": np.array([2]),
          "policy__plan_type": np.array([3, 4]), "circumstance__facility_type": np.array([10, 11])}


def test_the_date_meets_the_plan_treatment_setting_and_paperwork_only():
    codes = code_column_inputs(BLOCKS, PLAN_TREATMENT)
    everything_else, dated = date_interaction_groups(NAMES, codes)
    names = NAMES + [" x ".join(read) for read in codes]
    assert [names[at] for at in dated] == [
        "treatment__botulinum_toxin", "treatment__massage_therapy", "treatment__procedure_code_97124",
        "policy__plan_type_ppo", "policy__plan_type_hmo", "circumstance__prior_authorization",
        "circumstance__referral", "circumstance__facility_type_medical_spa",
        "circumstance__facility_type_physician_office", "time__service_year",
        "treatment", "procedure_code", "plan_type", "facility_type", "plan_type x treatment"]
    # every other interaction is left as it was: all columns but the date in one group
    assert everything_else == [at for at in range(len(names)) if names[at] != "time__service_year"]


def test_the_code_columns_are_the_ones_the_teachers_matrix_appends():
    features = np.eye(len(NAMES), dtype=np.float32)
    for crossed in ((), PLAN_TREATMENT):
        matrix, mask = _with_category_codes(features, BLOCKS, crossed)
        assert matrix.shape[1] == len(NAMES) + len(code_column_inputs(BLOCKS, crossed)) == len(mask)


def test_without_a_date_there_is_nothing_to_confine():
    assert date_interaction_groups([name for name in NAMES if not name.startswith("time__")], []) is None
