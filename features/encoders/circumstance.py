"""CircumstanceEncoder: what surrounds the visit: documents, course of treatment, place, money, patient."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.catalog import SETTING_FACILITIES, load_catalog
from features.contract import BENEFIT_REMAINING, FACILITY_TYPES, MONOTONIC_FLAGS, OFFICE_FACILITIES
from features.encoders.base import BaseClaimsEncoder
from features.encoders.columns import rows_per_combination
from features.encoders.values import one_hot, read_flags, read_numbers, read_text
from features.prior_authorization import load_authorization_table

# CMS place-of-service codes common at med spas and their alternatives (office, off- and
# on-campus hospital outpatient, ambulatory surgery center, independent clinic).
COMMON_PLACES_OF_SERVICE = ("11", "19", "22", "24", "49")

# The contract bounds weeks and dollar amounts below only. Past float32's range (3.4e38) a value
# would become inf in the matrix: the tree fit refuses inf and the linear denial model's logits turn
# NaN. Capped here, such a value is past every split the trees learned, as before, and stays finite.
LARGEST_AMOUNT = 1e12


class CircumstanceEncoder(BaseClaimsEncoder):
    """What surrounds the visit: documents, course of treatment, place, money, patient.

    Outputs, in order: `referral`, `medical_necessity_letter`, `prior_authorization`,
    `conservative_therapy_documented` (0/1); `prior_authorization_where_required` (an authorization
    is on file and the prior-authorization table asks for one for this plan, setting and service:
    features.prior_authorization), `conservative_therapy_where_required` (the document is there and
    the catalog's row for the treatment asks for it: without these a tree must find the treatment, then the flag, before
    the requirement shows, and its monotonic bounds make that slow to learn); `visit_number`, `initial_visit`,
    `weeks_since_last_treatment` (NaN when no earlier treatment), `has_prior_treatment`,
    `below_min_weeks_between` (sooner than the catalog allows); `prior_authorization_required` (the
    table asks for one here, on file or not: without it a missing authorization the plan asks for and
    one it does not ask for encode alike); `facility_type_<f>`,
    `facility_is_office`, `facility_fits_benefit_scope` (office_only needs an office;
    comprehensive fits all), `setting_fits_treatment` (the catalog's required_setting);
    `place_of_service_<code>` for `place_of_service_codes`, `place_of_service_other`;
    `benefit_remaining` (limit - used, at least 0; NaN when no limit),
    `benefit_remaining_fraction` (of the billed amount, clipped to 0..1; 1 when no limit),
    `benefit_exhausted`; `billed_amount_log1p`; `patient_age`, `below_min_age`.

    The catalog's requirements of an unresolved treatment (a composite key) are what all its
    candidates require (catalog.shared_traits): a document counts as "where required" only when
    each candidate asks for it, and a minimum is the least of the candidates' minimums.

    Parameters
    ----------
    place_of_service_codes : tuple of str, default=COMMON_PLACES_OF_SERVICE
        The CMS place-of-service codes given their own output; the others share one.
    columns : mapping or None, default=None
        Where X holds each input, if not under its name; see BaseClaimsEncoder.

    Attributes
    ----------
    treatment_keys_ : tuple of str
        The catalog's keys at fit, then its composite keys (codes several treatments share).
    treatment_limits_ : ndarray of shape (len(treatment_keys_) + 1, 2)
        Per key, then for an unlisted treatment: minimum weeks between visits, minimum age
        (NaN for none).
    treatment_requirements_ : ndarray of shape (len(treatment_keys_) + 1, 2)
        Per key, then for an unlisted treatment: requires prior authorization (the catalog's word;
        the output reads the prior-authorization table instead, which knows the plan and the
        setting), requires conservative therapy (0/1).
    setting_facilities_ : dict of str to tuple of str
        Key -> the facilities its required setting accepts, for keys that require one.
    facility_types_ : tuple of str
        The contract's facility types at fit.
    office_facilities_ : tuple of str
        The facility types that are offices.
    place_of_service_codes_ : tuple of str
        place_of_service_codes, stripped.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from features.encoders import CircumstanceEncoder
    >>> claims = pd.DataFrame({
    ...     "treatment": ["botulinum_toxin", "botulinum_toxin"],
    ...     "plan_type": pd.Categorical(["ppo", "medicare"]), "procedure_code": ["64615", "64615"],
    ...     "benefit_scope": pd.Categorical(["comprehensive", "office_only"]),
    ...     "facility_type": pd.Categorical(["physician_office", "medical_spa"]),
    ...     "place_of_service": ["11", "02"],
    ...     "referral": [True, False], "medical_necessity_letter": [True, False],
    ...     "prior_authorization": [True, False], "conservative_therapy_documented": [True, True],
    ...     "visit_number": [1, 3], "weeks_since_last_treatment": [np.nan, 8.0], "patient_age": [45, 30],
    ...     "billed_amount": [600.0, 250.0], "benefit_limit": [np.nan, 1000.0], "benefit_used": [0.0, 900.0]})
    >>> encoder = CircumstanceEncoder().set_output(transform="pandas").fit(claims)
    >>> out = encoder.transform(claims)
    >>> out[["below_min_weeks_between", "facility_fits_benefit_scope", "place_of_service_other"]].values.tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    >>> out["prior_authorization_where_required"].tolist()
    [1.0, 0.0]
    >>> out["benefit_remaining"].tolist()
    [nan, 100.0]
    """

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

    def __init__(self, place_of_service_codes=COMMON_PLACES_OF_SERVICE, columns=None):
        self.place_of_service_codes = place_of_service_codes
        self.columns = columns

    def _check_params(self) -> None:
        codes = self.place_of_service_codes
        if (isinstance(codes, str) or not isinstance(codes, (tuple, list))
                or not all(isinstance(code, str) and code.strip() for code in codes) or len(set(codes)) != len(codes)):
            raise ValueError("CircumstanceEncoder: place_of_service_codes must be a tuple of distinct non-empty "
                             f"code strings such as {COMMON_PLACES_OF_SERVICE}, got {codes!r}")

    def _fit(self, columns: Mapping) -> None:
        catalog = load_catalog()
        self.treatment_keys_ = catalog.keys + catalog.composite_keys
        self.facility_types_ = FACILITY_TYPES
        self.office_facilities_ = OFFICE_FACILITIES
        self.place_of_service_codes_ = tuple(code.strip() for code in self.place_of_service_codes)
        traits = [catalog.shared_traits(key) for key in self.treatment_keys_]
        limits = np.full((len(traits) + 1, 2), np.nan)  # the last row: unlisted or unknown
        for row, shared in enumerate(traits):
            limits[row] = [np.nan if shared.min_weeks_between is None else shared.min_weeks_between,
                           np.nan if shared.min_age is None else shared.min_age]
        self.treatment_limits_ = limits
        requirements = np.zeros((len(traits) + 1, len(self.REQUIRED_DOCUMENTS)))
        for row, shared in enumerate(traits):
            requirements[row] = [bool(getattr(shared, attribute)) for _, _, attribute in self.REQUIRED_DOCUMENTS]
        self.treatment_requirements_ = requirements
        self.setting_facilities_ = {key: SETTING_FACILITIES[shared.required_setting]
                                    for key, shared in zip(self.treatment_keys_, traits) if shared.required_setting}

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
