"""rows_per_combination: combinations remembered per encoder, equal to working them out."""
import weakref

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
    remembered = encoder.encode_columns(columns)  # a batch chunk's rows, from the memo the calls above filled
    monkeypatch.setattr(encoder_columns, "_memos", weakref.WeakKeyDictionary())  # nothing remembered
    worked_out = encoder.encode_columns(columns)
    for out in (first, again, remembered):
        assert np.array_equal(out, worked_out, equal_nan=True)


def test_the_memo_stays_within_its_limit_on_a_chunk_of_many_combinations(make_clean_frame, monkeypatch):
    frame = make_clean_frame(*({"treatment": "botulinum_toxin", "procedure_code": code}
                               for code in ("64615", "J0585", "J0586", "J0587", "J0588")))
    encoder = TreatmentEncoder(min_frequency=1).fit(frame)
    monkeypatch.setattr(encoder_columns, "FEW_ROWS", 0)
    monkeypatch.setattr(encoder_columns, "MEMO_LIMIT", 3)
    monkeypatch.setattr(encoder_columns, "_memos", weakref.WeakKeyDictionary())
    worked_out = encoder.encode_columns(_column_arrays(frame))
    assert len(encoder_columns._memos[encoder][1]) == 3
    assert np.array_equal(encoder.encode_columns(_column_arrays(frame)), worked_out, equal_nan=True)


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
