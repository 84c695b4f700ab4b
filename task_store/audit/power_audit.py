"""Audit N-PowerAI labels: every record under every convention, then per task type.

1. Each parsed question is evaluated under each convention. A convention *reproduces* a label
   when it gives the same whole number (size) or the same power to 1e-6; it *agrees* with it
   when the official key accepts it (power within 1%).
2. A power label no convention reproduces is searched for its source (another n, a round
   effect parameter). Reproducing conventions, including those of found sources, vote.
3. Findings: agreements name the conventions; disagreements are recomputed under the type's
   preferred convention, with the source found or a stale-label check as their cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from task_store.audit.models import AuditFinding, TypeConvention
from task_store.audit.power_calc import Convention, evaluate
from task_store.audit.power_causes import LabelSource, power_source, size_source
from task_store.audit.power_conventions import conventions, preferred, summary, vote
from task_store.audit.power_parse import Design, ParseError, parse
from task_store.audit.power_sentence import sentence

DATASET = "npowerai"
EXACT = 1e-6
Votes = dict[str, Counter[str]]


@dataclass
class Case:
    """One record through the passes."""

    task_id: str
    task_type: str
    official: float
    design: Design | None = None
    error: str = ""
    results: dict[Convention, float | None] = field(default_factory=dict)
    source: LabelSource | None = None

    def matches(self, tolerance: float) -> list[Convention]:
        return [c for c, v in self.results.items() if v is not None and self._same(v, tolerance)]

    def _same(self, value: float, tolerance: float) -> bool:
        if self.design is not None and self.design.target == "size":
            return round(value) == round(self.official)
        return abs(value - self.official) <= tolerance * abs(self.official)


def first_pass(raw: Mapping[str, object], task_id: str) -> Case:
    """Parse one record and evaluate it under every convention."""
    case = Case(task_id, str(raw.get("task_type", "")), _float(raw.get("answer")))
    target = raw.get("estimate_target")
    if target not in ("size", "power"):
        case.error = f"unknown estimate_target {target!r}"
        return case
    try:
        case.design = parse(case.task_type, target, str(raw.get("question", "")))
    except ParseError as exc:
        case.error = f"question not parsed: {exc}"
        return case
    try:
        case.results = evaluate(case.design, conventions(case.design))
        if not case.matches(EXACT):
            case.source = power_source(case.design, case.official)
    except Exception as exc:  # odd parameters (a zero SD, ...) make the record unauditable, not the run
        case.design, case.error = None, f"could not compute: {type(exc).__name__}: {exc}"
    return case


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return float("nan")


def audit_cases(cases: list[Case]) -> tuple[list[AuditFinding], list[TypeConvention]]:
    """Votes per task type, then the findings and each type's convention."""
    votes: dict[str, Votes] = {}
    for case in cases:
        if case.design is not None:
            exact = case.matches(EXACT)
            if not exact and case.source is not None and case.source.convention is not None:
                exact = [case.source.convention]
            vote(votes.setdefault(case.task_type, {}), case.design, exact)
    stale = _stale_labels(cases, votes)
    findings = [_finding(case, votes.get(case.task_type, {}), stale) for case in cases]
    types = sorted({c.task_type for c in cases if c.design is not None})
    return findings, [_convention(t, votes.get(t, {}), findings) for t in types]


def _stale_labels(cases: list[Case], votes: dict[str, Votes]) -> dict[tuple[str, str, float], int]:
    """(type, target, label) shared by 5+ records that no convention matches and whose recomputed
    answers differ (at least 3 values): a label that did not follow its question's numbers."""
    answers: dict[tuple[str, str, float], set[float]] = {}
    for case in cases:
        if case.design is not None and not case.matches(0.01):
            conv = preferred(case.design, votes.get(case.task_type, {}))
            value = case.results.get(conv)
            if value is not None:
                answers.setdefault((case.task_type, case.design.target, case.official), set()).add(round(value, 6))
    counts: Counter[tuple[str, str, float]] = Counter(
        (c.task_type, c.design.target, c.official) for c in cases if c.design is not None and not c.matches(0.01)
    )
    return {key: counts[key] for key, values in answers.items() if counts[key] >= 5 and len(values) >= 3}


def _show(value: float, design: Design) -> str:
    return str(round(value)) if design.target == "size" else f"{value:.6g}"


def _finding(case: Case, votes: Votes, stale: dict[tuple[str, str, float], int]) -> AuditFinding:
    base = AuditFinding(
        task_id=case.task_id, dataset=DATASET, category=case.task_type, status="not_auditable",
        official=f"{case.official:g}",
    )
    design = case.design
    if design is None:
        return base.model_copy(update={"cause": case.error})
    exact, loose = case.matches(EXACT), case.matches(0.01)
    if loose:
        best = preferred(design, votes, exact or loose)
        value = case.results[best]
        assert value is not None
        cause = summary(exact, design) if exact else f"within the 1% tolerance only; {summary(loose, design)}"
        if not exact and case.source is not None:
            cause += f"; {case.source.text}"
        cause += _off_convention(case, design, votes, exact or loose)
        return base.model_copy(update={"status": "agrees", "recomputed": _show(value, design), "cause": cause})
    return base.model_copy(update=_disagreement(case, design, votes, stale))


def _off_convention(case: Case, design: Design, votes: Votes, matching: list[Convention]) -> str:
    """A warning when only conventions the type's labels otherwise do not follow match (a coincidence)."""
    typical = preferred(design, votes)
    value = case.results.get(typical)
    if typical in matching or value is None:
        return ""
    return f"; but not under the type's convention ({typical.describe()}), which gives {_show(value, design)}"


def _disagreement(
    case: Case, design: Design, votes: Votes, stale: dict[tuple[str, str, float], int]
) -> dict[str, object]:
    conv = preferred(design, votes)
    value = case.results.get(conv)
    if value is None:
        return {"cause": f"no value under the type's convention ({conv.describe()})"}
    source = case.source or (size_source(design, conv, case.official) if design.target == "size" else None)
    shared = stale.get((case.task_type, design.target, case.official), 0)
    reasons = [source.text] if source is not None else []
    if shared:
        reasons.append(f"{shared} records share the label {case.official:g} though their questions differ in answer")
    if not reasons:
        values = sorted({_show(v, design) for v in case.results.values() if v is not None}, key=float)
        reasons.append(f"no convention reproduces the label (values tried: {', '.join(values[:6])})")
    trusted = shared > 0 or (source is not None and source.convention is not None)
    cause = "; ".join(reasons)
    return {"status": "disagrees", "recomputed": _show(value, design), "cause": cause, "confident": trusted}


def _convention(task_type: str, votes: Votes, findings: list[AuditFinding]) -> TypeConvention:
    mine = [f for f in findings if f.category == task_type]
    return TypeConvention(
        task_type=task_type,
        sentence=sentence(task_type, votes),
        votes={dim: dict(counter) for dim, counter in votes.items()},
        notes=_notes(mine),
    )


def _notes(findings: list[AuditFinding]) -> list[str]:
    """The label defects of a type, commonest first, with how many records show each."""
    kinds = Counter(LabelSource.kind_of(f.cause) or "unexplained" for f in findings if f.status == "disagrees")
    loose = Counter(LabelSource.kind_of(f.cause) for f in findings if f.status == "agrees")
    notes = [f"{count} of {len(findings)} labels disagree: {kind}" for kind, count in kinds.most_common()]
    notes += [
        f"{count} of {len(findings)} labels agree only within the 1% tolerance: {kind}"
        for kind, count in loose.most_common() if kind
    ]
    return notes
