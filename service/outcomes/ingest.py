"""`medspa-coverage outcomes ingest PATH`: read adjudicated outcomes (CSV, Parquet or an X12 835),
keep those of claims the service answered in the outcomes table, and say what happened to every
row: recorded, already recorded (ingesting a file twice changes nothing), for a claim the service
never answered (unmatched: counted, not kept), or quarantined with its position and reason.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from service.outcomes.records import OutcomeFileError, Quarantined, ReadOutcomes, read_outcome_table
from service.outcomes.remittance import read_remittance
from service.outcomes.served import last_served
from service.outcomes.store import OutcomeStore
from scoring.artifacts import file_sha256
from common.private_files import create_private_file

X12_SUFFIXES = (".835", ".x12", ".edi")
OUTCOME_QUARANTINE_COLUMNS = ("position", "field", "reason")


@dataclass
class IngestReport:
    file: str
    source: str
    items_read: int
    outcomes_read: int
    added: int
    already_recorded: int
    unmatched: int
    quarantined: list[Quarantined] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"file": self.file, "source": self.source, "items_read": self.items_read,
                "outcomes_read": self.outcomes_read, "added": self.added, "already_recorded": self.already_recorded,
                "unmatched": self.unmatched, "quarantined": len(self.quarantined),
                "quarantined_by_reason": dict(Counter(item.reason for item in self.quarantined).most_common())}

    def format(self) -> str:
        unit = "claim payments" if self.source == "x12-835" else "rows"
        lines = [f"{self.file} ({self.source}): {self.items_read:,} {unit} read, {self.outcomes_read:,} outcomes",
                 f"  recorded            {self.added:>8,}",
                 f"  already recorded    {self.already_recorded:>8,}  (the same outcome ingested before)",
                 f"  unmatched           {self.unmatched:>8,}  (no served prediction has this claim id; not kept)",
                 f"  quarantined         {len(self.quarantined):>8,}  (problems; positions with --quarantine OUT)"]
        for reason, count in Counter(item.reason for item in self.quarantined).most_common():
            lines.append(f"    {count:>6,}  {reason}")
        return "\n".join(lines)


def read_outcome_file(path: Path) -> ReadOutcomes:
    """An 835 (by its suffix, or a file that starts with an ISA segment) or a CSV / Parquet table."""
    if path.suffix.lower() in X12_SUFFIXES or _starts_with_isa(path):
        return read_remittance(path)
    return read_outcome_table(path)


def ingest_outcomes(path, audit_store, quarantine_path=None) -> IngestReport:
    """Read the file and record the outcomes of served claims (see the module docstring).
    Raises OutcomeFileError for a file that cannot be read at all."""
    path = Path(path)
    if not path.is_file():
        raise OutcomeFileError(f"{path}: no such file")
    read = read_outcome_file(path)
    served = last_served(audit_store, {outcome.claim_id for outcome in read.outcomes})
    matched = [outcome for outcome in read.outcomes if outcome.claim_id in served]
    added, already = OutcomeStore(audit_store.engine).add(matched, read.source, file_sha256(path))
    if quarantine_path is not None:
        write_quarantine(read.quarantined, Path(quarantine_path))
    return IngestReport(file=path.name, source=read.source, items_read=read.items_read,
                        outcomes_read=len(read.outcomes), added=added, already_recorded=already,
                        unmatched=len(read.outcomes) - len(matched), quarantined=read.quarantined)


def write_quarantine(items: list[Quarantined], path: Path) -> Path:
    """Position, field and reason of each quarantined item (no values: the file's rows stay where they are)."""
    with open(create_private_file(path), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTCOME_QUARANTINE_COLUMNS)
        writer.writerows((item.position, item.field, item.reason) for item in items)
    return path


def _starts_with_isa(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(64).lstrip().startswith(b"ISA")
