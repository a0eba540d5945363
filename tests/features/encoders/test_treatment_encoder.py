"""TreatmentEncoder: the catalog row of the treatment, and the procedure code."""
import pytest

from features.catalog import load_catalog
from features.encoders import TreatmentEncoder


@pytest.mark.parametrize("claim, expected", [
    ({"treatment": "botulinum_toxin", "procedure_code": "64615"},
     {"botulinum_toxin": 1, "unlisted": 0, "category_injectable": 1, "cosmetic_by_default": 1,
      "requires_prior_authorization": 1, "requires_conservative_therapy": 1, "procedure_code_64615": 1}),
    ({"treatment": "weight_management", "procedure_code": "G0447"},
     {"weight_management": 1, "category_weight": 1, "cosmetic_by_default": 0, "requires_prior_authorization": 0,
      "procedure_code_G0447": 1, "procedure_code_other": 0}),
    ({"treatment": "facial", "procedure_code": None}, {"facial": 1, "category_spa": 1, "procedure_code_none": 1}),
    ({"treatment": "facial", "procedure_code": ""}, {"procedure_code_none": 1, "procedure_code_other": 0}),
    ({"treatment": "unlisted", "procedure_code": "17999"},
     {"unlisted": 1, "cosmetic_by_default": 0, **{f"category_{c}": 0 for c in ("laser", "skin", "spa")}}),
    ({"treatment": "no_such_treatment", "procedure_code": "17999"}, {"unlisted": 1}),
])
def test_treatment_encoder_describes_the_catalog_row(make_clean_frame, encode, claim, expected):
    row = encode(TreatmentEncoder(min_frequency=1), make_clean_frame(claim))
    assert {name: row[name] for name in expected} == expected
    assert sum(row[key] for key in load_catalog().keys + ("unlisted",)) == 1


def test_rare_procedure_codes_share_the_other_column(make_clean_frame):
    frame = make_clean_frame(*[{"procedure_code": "64615"}] * 3, {"procedure_code": "J0585"})
    encoder = TreatmentEncoder(min_frequency=2).fit(frame)
    names = list(encoder.get_feature_names_out())
    assert "procedure_code_64615" in names and "procedure_code_J0585" not in names
    out = encoder.transform(make_clean_frame({"procedure_code": "J0585"}, {"procedure_code": "64612"}))
    assert out[:, names.index("procedure_code_other")].tolist() == [1.0, 1.0]


def test_treatment_columns_keep_their_meaning_whatever_the_training_frame_holds(make_clean_frame):
    one = TreatmentEncoder().fit(make_clean_frame({"treatment": "facial"}))
    other = TreatmentEncoder().fit(make_clean_frame({"treatment": "wig"}, {"treatment": "acne_treatment"}))
    assert list(one.get_feature_names_out()) == list(other.get_feature_names_out())
