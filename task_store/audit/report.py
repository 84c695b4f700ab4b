"""Write an `AuditReport` as JSON and render it as a plain-text table.

Both contain official labels and recomputed answers: they are for the operator (the CLI's
`medgym tasks audit`), never for an agent, a tool result or an export.
"""

from __future__ import annotations

import json
from pathlib import Path

from task_store.audit.models import AuditReport, CategoryCounts

_HEADER = ("dataset", "category", "agrees", "disagrees", "not auditable", "total")


def write_json(report: AuditReport, path: Path) -> Path:
    """The whole report (findings, counts, conventions) as indented JSON; returns `path`."""
    payload = report.model_dump(mode="json")
    counts = {
        ds: {cat: c.model_dump() | {"total": c.total} for cat, c in cats.items()}
        for ds, cats in report.counts().items()
    }
    payload["counts"] = counts
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _row(dataset: str, category: str, c: CategoryCounts) -> tuple[str, ...]:
    return (dataset, category, str(c.agrees), str(c.disagrees), str(c.not_auditable), str(c.total))


def _rows(report: AuditReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    totals = report.totals()
    for dataset, cats in report.counts().items():
        rows += [_row(dataset, cat, c) for cat, c in cats.items()]
        rows.append(_row(dataset, "(all)", totals[dataset]))
    return rows


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(len(_HEADER))]

    def line(r: tuple[str, ...]) -> str:
        cells = [r[i].ljust(widths[i]) if i < 2 else r[i].rjust(widths[i]) for i in range(len(r))]
        return "  ".join(cells).rstrip()
    return [line(_HEADER), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]


def render_text(report: AuditReport, details: bool = False) -> str:
    """Counts per dataset and category, the N-PowerAI conventions, and (with `details`) every
    disagreement and non-auditable record with its cause."""
    lines = _table(_rows(report))
    if report.conventions:
        lines += ["", "N-PowerAI: the convention each task type's labels follow"]
        for conv in report.conventions:
            lines += [f"- {conv.task_type}: {conv.sentence}", *(f"    {note}" for note in conv.notes)]
    if report.skipped:
        lines += ["", f"records the adapters rejected ({len(report.skipped)}):", *(f"- {s}" for s in report.skipped)]
    if details:
        lines += ["", "findings other than agreements:"]
        for f in report.findings:
            if f.status != "agrees":
                trust = " (trusted)" if f.confident else ""
                lines.append(
                    f"- {f.task_id} [{f.status}{trust}] official {f.official}, recomputed {f.recomputed}: {f.cause}"
                )
    return "\n".join(lines) + "\n"
