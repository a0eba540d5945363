"""A small X12 835 writer for the tests: one remittance of claim payments from outcome rows, in
the shape payers send (005010X221A1): approved -> status 1 with the fee-schedule write-off (CO-45),
partial -> status 1 with the denial adjustment, denied -> status 4 with it. Synthetic throughout:
payer, provider and patient are placeholders."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

HEADER = ("ISA*00*          *00*          *ZZ*DEMOPAYER      *ZZ*DEMOMEDSPA     *261201*1200*^*00501*000000201*0*T*:",
          "GS*HP*DEMOPAYER*DEMOMEDSPA*20261201*1200*201*X*005010X221A1")


def write_835(outcomes: pd.DataFrame, billed: dict[str, float], path: Path, produced: date) -> Path:
    """`outcomes`: claim_id, outcome, paid_amount, denial_reason; `billed`: claim_id -> billed amount."""
    body = [f"BPR*I*{outcomes['paid_amount'].astype(float).sum():.2f}*C*ACH*CCP*01*011000015*DA*0000000001*1512345678"
            f"**01*011000028*DA*0000000002*{produced:%Y%m%d}",
            "TRN*1*EFT0000201*1512345678", f"DTM*405*{produced:%Y%m%d}", "N1*PR*DEMO HEALTH PLAN",
            "N3*1 EXAMPLE WAY", "N4*SPRINGFIELD*IL*62701", "PER*BL*CLAIMS HELP*TE*5555550100",
            "N1*PE*DEMO MED SPA*XX*1234567893", "LX*1"]
    for row in outcomes.itertuples(index=False):
        charged = max(float(billed[row.claim_id]), float(row.paid_amount))
        paid = float(row.paid_amount)
        status = "4" if row.outcome == "denied" else "1"
        body.append(f"CLP*{row.claim_id}*{status}*{charged:.2f}*{paid:.2f}*0*12*PAYER{len(body):06d}*11*1")
        if row.outcome == "approved":
            body.append(f"CAS*CO*45*{charged - paid:.2f}")
        else:
            body.append(f"CAS*CO*{row.denial_reason}*{max(charged - paid, 0.01):.2f}")
        body.append("NM1*QC*1*SAMPLE*PATIENT")
    segments = [*HEADER, "ST*835*0001", *body]
    segments.append(f"SE*{len(segments) - 1:d}*0001")
    segments += ["GE*1*201", "IEA*1*000000201"]
    path.write_text("~\n".join(segments) + "~\n", encoding="ascii")
    return path
