"""Audit notes an agent may see: no label, no recomputed value, no cause text (causes quote labels).

`public_note` says only whether the official answer was confirmed and which key scores the task;
`convention_sentence` is the N-PowerAI type's convention, which states how to compute, not what.
"""

from __future__ import annotations

from scoring.keys import AnswerKey
from task_store.audit.keys import audited_key
from task_store.audit.models import AuditFinding, AuditReport


def public_note(finding: AuditFinding, official_key: AnswerKey, audited_labels: bool) -> str:
    """One agent-safe sentence about the audit of this task's label."""
    if finding.status == "agrees":
        return "Label audit: an independent recalculation confirms the official answer key."
    if finding.status == "not_auditable":
        return "Label audit: no independent recalculation of this task's answer key; it is scored as published."
    if audited_labels and audited_key(finding, official_key) is not None:
        return "Label audit: the official answer key was found wrong; this task is scored with the corrected key."
    return "Label audit: an independent recalculation does not confirm the answer key; it is scored as published."


def convention_sentence(report: AuditReport, task_type: str) -> str | None:
    """The convention the labels of an N-PowerAI task type follow, as an instruction sentence."""
    return next((c.sentence for c in report.conventions if c.task_type == task_type), None)
