"""The label audit as the server serves it: per task, the finding (server side only), the agent-safe
note and, with `MEDGYM_LABELS=audited`, the corrected key; per N-PowerAI task type, the convention
its labels follow (stated in the task's instructions).

Built once per data directory when the catalog loads (about a second per thousand records) and
kept in memory (a process that loads the same unchanged files again reuses it); findings quote
labels, so they never leave the server.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scoring.keys import AnswerKey
from task_store.audit import AuditFinding, AuditReport, audited_key, public_note, run_audit
from task_store.audit.run import DATASETS
from task_store.index import signature
from task_store.loader import TaskFile, discover

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


def _audited(directory: Path, files: list[TaskFile]) -> AuditReport:
    """`run_audit` of a directory, remembered in this process while its audited task files and the side
    files beside them are unchanged (their index signatures): a process that builds several servers over
    the same data, such as a test session, audits it once."""
    return _audit_of(str(directory.resolve()), tuple(sorted((str(f.path), signature(f)) for f in files)))


@functools.lru_cache(maxsize=4)
def _audit_of(directory: str, signatures: tuple[tuple[str, str], ...]) -> AuditReport:
    """The audit of `directory` as its files were when `signatures` were taken (the cache key)."""
    return run_audit(Path(directory))


def build_audit(directories: list[Path], labels: Labels) -> AuditIndex:
    """Audit the MedCalcBench and N-PowerAI labels found in these data directories."""
    index = AuditIndex(labels=labels)
    for directory in directories:
        files = [f for f in discover(directory) if f.dataset in DATASETS]
        if not files:
            continue
        report = _audited(directory, files)
        index.findings.update({f.task_id: f for f in report.findings})
        index.conventions.update({c.task_type: c.sentence for c in report.conventions})
        log.info("label audit of %s: %d findings", directory.name, len(report.findings))
    return index
