"""Typed results of a label audit: one finding per record, and a report with counts.

Findings hold official labels and recomputed values: they are server-side material (like answer
keys) and must never reach an agent, a tool result or an export.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["agrees", "disagrees", "not_auditable"]
STATUSES: tuple[Status, ...] = ("agrees", "disagrees", "not_auditable")


class AuditFinding(BaseModel):
    """The audit of one record's official label against an independent recomputation."""

    model_config = ConfigDict(frozen=True)

    task_id: str = Field(description="<dataset>/<split>/<native id>, as the adapters build it")
    dataset: str
    category: str = Field(description="calculator name (MedCalcBench) or task type (N-PowerAI)")
    status: Status
    official: str = Field(description="the official label, as the record gives it")
    recomputed: str | None = Field(None, description="the independent value (None when not auditable)")
    cause: str = Field("", description="why it disagrees / is not auditable, or which convention matched")
    confident: bool = Field(
        False, description="a disagreement whose recomputed value is trusted enough to score with"
    )


class CategoryCounts(BaseModel):
    """How many findings of one category have each status."""

    agrees: int = 0
    disagrees: int = 0
    not_auditable: int = 0

    @property
    def total(self) -> int:
        return self.agrees + self.disagrees + self.not_auditable


class TypeConvention(BaseModel):
    """The convention most N-PowerAI labels of one task type follow, as an instruction sentence."""

    task_type: str
    sentence: str
    votes: dict[str, dict[str, int]] = Field(description="per dimension: value -> decisive records")
    notes: list[str] = Field(default_factory=list, description="label defects seen across the type")


class AuditReport(BaseModel):
    """Every finding of an audit run, with counts per dataset and category."""

    findings: list[AuditFinding]
    conventions: list[TypeConvention] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="records the adapter rejected (file:line)")

    def counts(self) -> dict[str, dict[str, CategoryCounts]]:
        """dataset -> category -> counts."""
        table: dict[str, dict[str, Counter[str]]] = {}
        for f in self.findings:
            table.setdefault(f.dataset, {}).setdefault(f.category, Counter())[f.status] += 1
        return {
            dataset: {cat: CategoryCounts(**counter) for cat, counter in sorted(cats.items())}
            for dataset, cats in sorted(table.items())
        }

    def totals(self) -> dict[str, CategoryCounts]:
        """dataset -> counts over all its categories."""
        out: dict[str, Counter[str]] = {}
        for f in self.findings:
            out.setdefault(f.dataset, Counter())[f.status] += 1
        return {dataset: CategoryCounts(**counter) for dataset, counter in sorted(out.items())}

    def finding(self, task_id: str) -> AuditFinding | None:
        return next((f for f in self.findings if f.task_id == task_id), None)
