"""CircumstanceEncoder: what surrounds the visit: documents, course of treatment, place, money, patient."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from features.catalog import SETTING_FACILITIES, load_catalog
from features.contract import FACILITY_TYPES, OFFICE_FACILITIES
from features.encoders.base import BaseClaimsEncoder
from features.encoding.circumstance import COMMON_PLACES_OF_SERVICE, CircumstanceEncoding


class CircumstanceEncoder(CircumstanceEncoding, BaseClaimsEncoder):
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
