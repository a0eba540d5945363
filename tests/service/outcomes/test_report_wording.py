"""The outcomes report's printed lines say each thing once."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from scoring.realised import ALARM_MIN_CLAIMS, degradation
from service.outcomes.report import OutcomesReport, VersionReport, format_report


@pytest.mark.parametrize("claims, promoted", [
    (ALARM_MIN_CLAIMS - 1, {"brier": 0.2, "ece": 0.02}),  # too few claims
    (ALARM_MIN_CLAIMS, {}),  # nothing promoted to compare with
])
def test_an_alarm_not_called_is_printed_once_with_its_reason(claims, promoted):
    verdict = degradation({"claims": claims, "brier": 0.2, "ece": 0.02}, promoted)
    version = VersionReport("medspa-coverage", "1", {"claims": float(claims)}, {}, pd.DataFrame(), pd.DataFrame(),
                            promoted, verdict)
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc)
    printed = format_report(OutcomesReport(moment, moment, [version]))
    line = next(line for line in printed.splitlines() if line.startswith("v1 alarm:"))
    assert line.startswith("v1 alarm: not called: ") and line.count("not called") == 1
