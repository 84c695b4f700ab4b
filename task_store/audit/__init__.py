"""Label audit for MedCalcBench and N-PowerAI: official labels against independent recomputation.

Entry points: `run_audit` (a report for a data directory), `render_text` / `write_json` (its
outputs), `audited_key` (the key `MEDGYM_LABELS=audited` scores with), and the agent-safe
`public_note` / `convention_sentence`. Findings hold labels: server-side material, never shown to
an agent.
"""

from task_store.audit.keys import audited_key
from task_store.audit.models import AuditFinding, AuditReport, CategoryCounts, TypeConvention
from task_store.audit.notes import convention_sentence, public_note
from task_store.audit.report import render_text, write_json
from task_store.audit.run import DATASETS, run_audit

__all__ = [
    "DATASETS",
    "AuditFinding",
    "AuditReport",
    "CategoryCounts",
    "TypeConvention",
    "audited_key",
    "convention_sentence",
    "public_note",
    "render_text",
    "run_audit",
    "write_json",
]
