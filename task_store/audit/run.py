"""`run_audit`: audit the MedCalcBench and N-PowerAI labels of a data directory.

Records are read exactly as the task store reads them (same split files, same line numbers) and
each goes through its dataset adapter, so a finding's `task_id` is the id the store serves.
Records the adapter rejects are listed in `AuditReport.skipped` (the store skips them too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from task_store.adapters import ADAPTERS
from task_store.audit import medcalc_audit, power_audit
from task_store.audit.models import AuditFinding, AuditReport, TypeConvention
from task_store.loader import TaskFile, discover

log = logging.getLogger(__name__)
DATASETS = ("medcalcbench", "npowerai")


def run_audit(data_dir: Path, dataset: str | None = None) -> AuditReport:
    """Audit every record of `dataset` (or of both audited datasets) under `data_dir`."""
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"no label audit for {dataset!r}; audited datasets: {', '.join(DATASETS)}")
    wanted = (dataset,) if dataset else DATASETS
    files = [f for f in discover(data_dir) if f.dataset in wanted]
    findings: list[AuditFinding] = []
    conventions: list[TypeConvention] = []
    skipped: list[str] = []
    cases: list[power_audit.Case] = []
    for task_file in files:
        for task_id, raw in _records(task_file, skipped):
            if task_file.dataset == "medcalcbench":
                findings.append(medcalc_audit.audit_record(raw, task_id))
            else:
                cases.append(power_audit.first_pass(raw, task_id))
    if cases:
        power_findings, conventions = power_audit.audit_cases(cases)
        findings += power_findings
    log.info("audited %d records (%d skipped) under %s", len(findings), len(skipped), data_dir)
    return AuditReport(findings=findings, conventions=conventions, skipped=skipped)


def _records(task_file: TaskFile, skipped: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    """(task id, raw record) for every record the dataset's adapter accepts, in file order."""
    adapter = ADAPTERS[task_file.dataset]
    side = adapter.side_data(task_file.path.parent)
    with task_file.path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict):
                    raise ValueError("not a JSON object")
                task = adapter.parse(raw, task_file.split, line_no, side)
            except (ValueError, ValidationError, TypeError) as exc:
                skipped.append(f"{task_file.path}:{line_no}: {exc}"[:300])
                continue
            yield task.task.task_id, raw
