"""rows_per_combination: a few rows' combinations remembered per encoder, equal to working them out."""
import numpy as np

from features.encoding import columns as encoder_columns
from features.encoders import CircumstanceEncoder, TreatmentEncoder
from features.pipeline import claims_to_columns


def _column_arrays(frame) -> dict:
    return claims_to_columns(frame.to_dict("records"))


def test_remembered_rows_are_the_rows_worked_out_per_combination(make_clean_frame, monkeypatch):
    frame = make_clean_frame({"treatment": "botulinum_toxin", "facility_type": "physician_office"},
                             {"treatment": "facial", "facility_type": "medical_spa", "procedure_code": None},
                             {"treatment": "botulinum_toxin", "facility_type": "physician_office"},
                             {"treatment": "laser_hair_removal", "plan_type": "hmo"})
    encoder = CircumstanceEncoder().fit(frame)
    columns = _column_arrays(frame)
    first, again = encoder.encode_columns(columns), encoder.encode_columns(columns)  # the second from the memo
    monkeypatch.setattr(encoder_columns, "FEW_ROWS", 0)  # every call factorises, as for a large frame
    worked_out = encoder.encode_columns(columns)
    assert np.array_equal(first, worked_out, equal_nan=True) and np.array_equal(again, worked_out, equal_nan=True)


def test_a_refitted_encoder_does_not_read_its_old_rows(make_clean_frame):
    encoder = TreatmentEncoder(min_frequency=2)
    claim = _column_arrays(make_clean_frame({"procedure_code": "J0585"}))
    encoder.fit(make_clean_frame(*[{"procedure_code": "64615"}] * 2, {"procedure_code": "J0585"}))
    names = list(encoder.get_feature_names_out())
    assert encoder.encode_columns(claim)[0, names.index("procedure_code_other")] == 1.0
    encoder.fit(make_clean_frame(*[{"procedure_code": "J0585"}] * 2))  # the same instance, fitted again
    names = list(encoder.get_feature_names_out())
    out = encoder.encode_columns(claim)
    assert out.shape == (1, len(names)) and out[0, names.index("procedure_code_J0585")] == 1.0
