"""The decision a served claim gets: one of the model's bands (thresholds in scoring.params), or
a hard rule's exclusion. Every module that names a decision imports it from here: the scorer, the
API's schemas, the page (rendered into it by the server), the serving monitor, realised accuracy
and the review."""

LIKELY_APPROVED, UNCERTAIN, LIKELY_DENIED, EXCLUDED = "likely_approved", "uncertain", "likely_denied", "excluded"
# From the most hopeful answer to a rule's exclusion: tables and the page list them in this order.
DECISION_BANDS = (LIKELY_APPROVED, UNCERTAIN, LIKELY_DENIED, EXCLUDED)
# Answers that tell the patient "expect no payment".
DENYING_BANDS = (LIKELY_DENIED, EXCLUDED)
# The decision in a front desk's words: the page's badge and the first words of an answer's summary.
DECISION_LEADS = {LIKELY_APPROVED: "Likely paid", UNCERTAIN: "Uncertain", LIKELY_DENIED: "Likely denied",
                  EXCLUDED: "Not covered"}
