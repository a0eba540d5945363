"""CircumstanceEncoding: the fitted core of features.encoders.CircumstanceEncoder."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.contract import BENEFIT_REMAINING, MONOTONIC_FLAGS
from features.encoding.base import ClaimsEncoding
from features.encoding.columns import rows_per_combination
from features.encoding.values import one_hot, read_flags, read_numbers, read_text
from features.prior_authorization import load_authorization_table

# CMS place-of-service codes common at med spas and their alternatives (office, off- and
# on-campus hospital outpatient, ambulatory surgery center, independent clinic).
COMMON_PLACES_OF_SERVICE = ("11", "19", "22", "24", "49")
# The contract bounds weeks and dollar amounts below only. Past float32's range (3.4e38) a value
# would become inf in the matrix: the tree fit refuses inf and the linear denial model's logits turn
# NaN. Capped here, such a value is past every split the trees learned, as before, and stays finite.
LARGEST_AMOUNT = 1e12


class CircumstanceEncoding(ClaimsEncoding):
    """Documents, course of treatment, place, money and patient, read against the catalog's
    limits and requirements the fit copied (see CircumstanceEncoder)."""

    INPUT_COLUMNS = (
        "treatment", "plan_type", "procedure_code", "benefit_scope", "facility_type", "place_of_service",
        "referral", "medical_necessity_letter", "prior_authorization", "conservative_therapy_documented",
        "visit_number", "weeks_since_last_treatment", "patient_age",
        "billed_amount", "benefit_limit", "benefit_used",
    )
    DOCUMENTS = ("referral", "medical_necessity_letter", "prior_authorization", "conservative_therapy_documented")
    # (output, document, the catalog attribute that says the treatment asks for it)
    REQUIRED_DOCUMENTS = (
        ("prior_authorization_where_required", "prior_authorization", "requires_prior_authorization"),
        ("conservative_therapy_where_required", "conservative_therapy_documented", "requires_conservative_therapy"),
    )
    _VISIT = ("visit_number", "initial_visit", "weeks_since_last_treatment", "has_prior_treatment",
              "below_min_weeks_between", "prior_authorization_required")
    _PLACE_FLAGS = ("facility_is_office", "facility_fits_benefit_scope", "setting_fits_treatment")
    _MONEY_AND_AGE = (BENEFIT_REMAINING, "benefit_remaining_fraction", "benefit_exhausted", "billed_amount_log1p",
                      "patient_age", "below_min_age")
    # The contract's monotonic flags among the documents, present and where required, and more
    # benefit left never lower the probability.
    MONOTONIC_INCREASING = (*(name for name in DOCUMENTS if name in MONOTONIC_FLAGS),
                            *(output for output, document, _ in REQUIRED_DOCUMENTS if document in MONOTONIC_FLAGS),
                            BENEFIT_REMAINING, "benefit_remaining_fraction")
    MONOTONIC_DECREASING = ("benefit_exhausted",)

    def encode_columns(self, columns: Mapping) -> np.ndarray:
        """{each of INPUT_COLUMNS: 1-D array} -> (n, k) float32."""
        place_width = len(self.facility_types_) + len(self._PLACE_FLAGS) + len(self.place_of_service_codes_) + 1
        required = self.REQUIRED_DOCUMENTS
        # the place block, then the treatment's document requirements, minimum weeks between and minimum age
        place = rows_per_combination(self._place_row, place_width + len(required) + 2, columns["treatment"],
                                     columns["facility_type"], columns["benefit_scope"], columns["place_of_service"],
                                     columns["plan_type"], columns["procedure_code"])
        visit = read_numbers(columns["visit_number"])
        weeks = read_numbers(columns["weeks_since_last_treatment"])
        age = read_numbers(columns["patient_age"])
        billed = read_numbers(columns["billed_amount"])
        limit = read_numbers(columns["benefit_limit"])  # NaN: no limit
        used = np.fmax(read_numbers(columns["benefit_used"]), 0.0)  # missing: 0, the contract's default
        remaining = np.minimum(np.maximum(limit - used, 0.0), LARGEST_AMOUNT)  # NaN when there is no limit

        out = np.empty((len(visit), len(self.DOCUMENTS) + len(required) + len(self._VISIT) + place_width
                        + len(self._MONEY_AND_AGE)), dtype=np.float32)
        for column, name in enumerate(self.DOCUMENTS):
            out[:, column] = read_flags(columns[name])
        at = len(self.DOCUMENTS)
        for offset, (_, document, _) in enumerate(required):
            out[:, at + offset] = out[:, self.DOCUMENTS.index(document)] * place[:, place_width + offset]
        at += len(required)
        out[:, at] = visit
        out[:, at + 1] = visit <= 1
        out[:, at + 2] = np.minimum(weeks, LARGEST_AMOUNT)  # NaN stays NaN
        out[:, at + 3] = weeks == weeks  # not NaN
        out[:, at + 4] = weeks < place[:, -2]  # NaN (no earlier treatment, no minimum) compares False
        out[:, at + 5] = place[:, place_width]  # the table's answer for prior authorization
        at += len(self._VISIT)
        out[:, at:at + place_width] = place[:, :place_width]
        at += place_width
        out[:, at] = remaining
        # of the billed amount; fmin turns "no limit" (NaN) into 1, and a zero bill divides by a tiny one
        out[:, at + 1] = np.fmin(remaining / np.fmax(billed, 1e-9), 1.0)
        out[:, at + 2] = used >= limit
        out[:, at + 3] = np.log1p(np.maximum(billed, 0.0))
        out[:, at + 4] = age
        out[:, at + 5] = age < place[:, -1]
        return out

    def _place_row(self, treatment, facility_type, benefit_scope, place_of_service, plan_type,
                   procedure_code) -> list[float]:
        key, facility, scope = read_text(treatment), read_text(facility_type), read_text(benefit_scope)
        is_office = facility in self.office_facilities_
        allowed = self.setting_facilities_.get(key)
        row = self.treatment_keys_.index(key) if key in self.treatment_keys_ else -1
        requirements = self.treatment_requirements_[row].tolist()
        # Prior authorization is the plan's and the setting's fact, not the treatment's alone.
        requirements[0] = float(load_authorization_table().requirement(
            read_text(plan_type), key, read_text(procedure_code), read_text(place_of_service), facility).required is True)
        return [*one_hot(self.facility_types_, facility), is_office,
                scope == "comprehensive" or (scope == "office_only" and is_office),
                allowed is None or facility in allowed,
                *one_hot(self.place_of_service_codes_, read_text(place_of_service), other=True),
                *requirements, *self.treatment_limits_[row].tolist()]

    def one_hot_groups(self) -> dict[str, list[str]]:
        return {"facility_type": [f"facility_type_{f}" for f in self.facility_types_],
                "place_of_service": [*(f"place_of_service_{code}" for code in self.place_of_service_codes_),
                                     "place_of_service_other"]}

    def _output_names(self) -> list[str]:
        groups = self.one_hot_groups()
        return [*self.DOCUMENTS, *(name for name, _, _ in self.REQUIRED_DOCUMENTS), *self._VISIT,
                *groups["facility_type"], *self._PLACE_FLAGS, *groups["place_of_service"], *self._MONEY_AND_AGE]
