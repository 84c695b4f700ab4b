"""The label audit as the server serves it: per task, the finding (server side only), the agent-safe
note and, with `MEDGYM_LABELS=audited`, the corrected key; per N-PowerAI task type, the convention
its labels follow (stated in the task's instructions).

Built once per data directory when the catalog loads (about a second per thousand records) and
kept in memory; findings quote labels, so they never leave the server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scoring.keys import AnswerKey
from task_store.audit import AuditFinding, AuditReport, audited_key, public_note, run_audit
from task_store.loader import discover

log = logging.getLogger(__name__)

Labels = Literal["official", "audited"]


@dataclass
class AuditIndex:
    labels: Labels = "official"
    findings: dict[str, AuditFinding] = field(default_factory=dict)
    conventions: dict[str, str] = field(default_factory=dict)  # N-PowerAI task type -> sentence

    def key(self, task_id: str, official: AnswerKey) -> AnswerKey:
        """The key that scores the task under the chosen labels."""
        finding = self.findings.get(task_id)
        if self.labels == "audited" and finding is not None:
            return audited_key(finding, official) or official
        return official

    def note(self, task_id: str, official: AnswerKey) -> str | None:
        finding = self.findings.get(task_id)
        return public_note(finding, official, self.labels == "audited") if finding is not None else None

    def convention(self, dataset: str, category: str) -> str | None:
        return self.conventions.get(category) if dataset == "npowerai" else None


def build_audit(directories: list[Path], labels: Labels) -> AuditIndex:
    """Audit the MedCalcBench and N-PowerAI labels found in these data directories."""
    index = AuditIndex(labels=labels)
    for directory in directories:
        if not any(f.dataset in ("medcalcbench", "npowerai") for f in discover(directory)):
            continue
        report: AuditReport = run_audit(directory)
        index.findings.update({f.task_id: f for f in report.findings})
        index.conventions.update({c.task_type: c.sentence for c in report.conventions})
        log.info("label audit of %s: %d findings", directory.name, len(report.findings))
    return index
