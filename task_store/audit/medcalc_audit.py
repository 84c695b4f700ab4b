"""Audit one MedCalcBench record: recompute its answer from its entities, compare, explain.

The answer is recomputed twice: with every entity as written (as the upstream label generator
used them) and with implausible units re-read (sodium "137 mg/dL" as mmol/L). When only the
literal reading matches the label, the label is reported as following a suspect entity, and the
recomputed value is not trusted for scoring (`confident=False`): the official label stays.
"""

from __future__ import annotations

from collections.abc import Mapping

from scoring.keys import AnswerKey
from task_store.audit.entities import EntityError, parse_entities
from task_store.audit.medcalc_causes import explain
from task_store.audit.medcalc_core import Calculator, agrees, calculator_for, official_key, recompute, update
from task_store.audit.models import AuditFinding

DATASET = "medcalcbench"


def audit_record(raw: Mapping[str, object], task_id: str) -> AuditFinding:
    """The finding for one MedCalcBench record (`task_id` as the adapter builds it)."""
    name = str(raw.get("Calculator Name", ""))
    finding = AuditFinding(
        task_id=task_id, dataset=DATASET, category=name, status="not_auditable",
        official=str(raw.get("Ground Truth Answer", "")),
    )
    calc = calculator_for(name)
    if calc is None:
        return finding.model_copy(update={"cause": "no independent calculator for this calculator"})
    try:
        entities = parse_entities(raw.get("Relevant Entities"))
        key = official_key(raw)
    except (EntityError, ValueError, KeyError) as exc:
        return finding.model_copy(update={"cause": f"record unparseable: {exc}"})
    return finding.model_copy(update=classify(name, calc, entities, key, finding.official))


def classify(
    name: str, calc: Calculator, entities: Mapping[str, object], key: AnswerKey, official: str
) -> dict[str, object]:
    """Status, recomputed value, cause and confidence for one record."""
    ours = recompute(calc, entities, literal=False)
    literal = recompute(calc, entities, literal=True)
    literal_matches = literal.value is not None and agrees(key, literal.value)
    if ours.value is None:
        tail = "; the label uses it as written" if literal_matches else ""
        return update("not_auditable", f"entities unusable: {ours.error}{tail}")
    notes = "; ".join(ours.notes)
    if agrees(key, ours.value):
        return update("agrees", notes or f"independent calculator {calc.source}", ours.value)
    if literal_matches:
        return update("disagrees", f"the label takes a suspect entity as written: {notes}", ours.value)
    cause, trusted = explain(name, calc, entities, key, official, ours)
    if notes:
        cause = f"{cause} (readings: {notes})"
    return update("disagrees", cause, ours.value, confident=trusted and not ours.notes)
