"""The resources a MedAgentBench task requires the agent to write, each as a check of one resource.

Each `Order` names the resource type and returns the names of the fields that do not match
(never the expected values). The rules follow MedAgentBench's reference grader (`refsol.py`);
`docs/FHIR.md` lists where they deviate and why (mainly: FHIR-valid forms such as a route as a
CodeableConcept or notes as a list are accepted besides the grader's forms; times are compared as
instants rather than as strings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scoring.fhir_chart import parse_instant, reference_id

Resource = Mapping[str, Any]

NDC = "http://hl7.org/fhir/sid/ndc"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
VITALS_SYSTEMS = ("http://hl7.org/fhir/observation-category",
                  "http://terminology.hl7.org/CodeSystem/observation-category")
MAGNESIUM_NDC = "0338-1715-40"
POTASSIUM_NDC = "40032-917-01"
POTASSIUM_LOINC = "2823-3"
A1C_LOINC = "4548-4"
REFERRAL_SNOMED = "306181000000106"
BP_FLOWSHEET = "BP"


@dataclass(frozen=True)
class Order:
    """One resource the task requires: its type, a short name for feedback, and its field check."""

    resource_type: str
    name: str
    problems: Callable[[Resource], list[str]]


def _failed(checks: dict[str, bool]) -> list[str]:
    return [name for name, ok in checks.items() if not ok]


def _coded(concept: object, system: str, code: str) -> bool:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    return any(isinstance(c, Mapping) and c.get("system") == system and c.get("code") == code
               for c in codings or []) if isinstance(codings, list) else False


def _same_instant(text: object, moment: datetime) -> bool:
    return parse_instant(text) == moment


def _same_minute(text: object, moment: datetime) -> bool:
    written = parse_instant(text)
    return written is not None and moment <= written < moment + timedelta(minutes=1)


def _common_order(resource: Resource, patient_id: str) -> dict[str, bool]:
    return {"status": resource.get("status") == "active", "intent": resource.get("intent") == "order",
            "subject": reference_id(resource.get("subject")) == patient_id}


def _route(dosage: Mapping[str, Any], route: str) -> bool:
    """A plain string (MedAgentBench's grader) or a CodeableConcept's text, code or display."""
    value = dosage.get("route")
    if isinstance(value, str):
        return value.strip().casefold() == route.casefold()
    if not isinstance(value, Mapping):
        return False
    words = [value.get("text")] + [c.get(k) for c in value.get("coding") or [] if isinstance(c, Mapping)
                                   for k in ("code", "display")]
    return any(isinstance(w, str) and w.strip().casefold() == route.casefold() for w in words)


def _dose(dosage: Mapping[str, Any], field: str) -> tuple[float | None, object]:
    rates = dosage.get("doseAndRate")
    first = rates[0] if isinstance(rates, list) and rates and isinstance(rates[0], Mapping) else {}
    quantity = first.get(field)
    if not isinstance(quantity, Mapping):
        return None, None
    value = quantity.get("value")
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return number, quantity.get("unit")


def _first_dosage(resource: Resource) -> Mapping[str, Any]:
    dosages = resource.get("dosageInstruction")
    return dosages[0] if isinstance(dosages, list) and dosages and isinstance(dosages[0], Mapping) else {}


def medication_order(patient_id: str, now: datetime, ndc: str, route: str, dose: tuple[float, str, float],
                     rate: tuple[float, str] | None) -> Order:
    """A MedicationRequest: NDC, authored in the task's minute, route, dose (value, unit, tolerance), rate."""

    def problems(resource: Resource) -> list[str]:
        dosage = _first_dosage(resource)
        value, unit = _dose(dosage, "doseQuantity")
        checks = {"medication code": _coded(resource.get("medicationCodeableConcept"), NDC, ndc),
                  "authoredOn": _same_minute(resource.get("authoredOn"), now), "route": _route(dosage, route),
                  "dose": value is not None and abs(value - dose[0]) <= dose[2] and unit == dose[1]}
        if rate is not None:
            rate_value, rate_unit = _dose(dosage, "rateQuantity")
            checks["rate"] = rate_value == rate[0] and rate_unit == rate[1]
        return _failed(checks | _common_order(resource, patient_id))

    return Order("MedicationRequest", "medication order", problems)


def service_order(patient_id: str, now: datetime, system: str, code: str, note: str | None = None,
                  occurrence: Callable[[object], bool] | None = None) -> Order:
    """A stat ServiceRequest with this code, authored now; optionally a note and an occurrence time."""

    def problems(resource: Resource) -> list[str]:
        checks = {"code": _coded(resource.get("code"), system, code),
                  "authoredOn": _same_instant(resource.get("authoredOn"), now),
                  "priority": resource.get("priority") == "stat"}
        if note is not None:
            checks["note"] = note in _note_texts(resource.get("note"))
        if occurrence is not None:
            checks["occurrenceDateTime"] = occurrence(resource.get("occurrenceDateTime"))
        return _failed(checks | _common_order(resource, patient_id))

    return Order("ServiceRequest", "service request", problems)


def _note_texts(note: object) -> str:
    """The note's text: an object with `text` (MedAgentBench's API list) or a list of Annotations (FHIR R4)."""
    notes = note if isinstance(note, list) else [note]
    return "\n".join(n["text"] for n in notes if isinstance(n, Mapping) and isinstance(n.get("text"), str))


def next_morning(now: datetime, hour: int = 8) -> Callable[[object], bool]:
    """The day after `now`, at `hour` o'clock in the offset the time is written in (the grader's
    `'2023-11-14T08:' in occurrenceDateTime`)."""
    day = (now + timedelta(days=1)).date()

    def check(text: object) -> bool:
        written = parse_instant(text)
        return written is not None and written.date() == day and written.hour == hour

    return check


def vitals_observation(patient_id: str, now: datetime, flowsheet: str, value: str) -> Order:
    """A final vital-signs Observation of `flowsheet` (code.text) with `valueString`, effective now."""

    def problems(resource: Resource) -> list[str]:
        code = resource.get("code")
        return _failed({
            "category": _vital_signs(resource.get("category")),
            "code": isinstance(code, Mapping) and code.get("text") == flowsheet,
            "effectiveDateTime": _same_instant(resource.get("effectiveDateTime"), now),
            "status": resource.get("status") == "final", "valueString": resource.get("valueString") == value,
            "subject": reference_id(resource.get("subject")) == patient_id,
        })

    return Order("Observation", "vital-signs observation", problems)


def _vital_signs(category: object) -> bool:
    concepts = category if isinstance(category, list) else []
    return any(_coded(c, system, "vital-signs") for c in concepts for system in VITALS_SYSTEMS)


def match(orders: tuple[Order, ...], writes: Sequence[Mapping[str, Any]]) -> str | None:
    """None when the writes are exactly the orders (any order); else why not, without expected values."""
    found = _describe(writes)
    if any(w.get("interaction") != "create" for w in writes) or len(writes) != len(orders):
        return f"the writes to the FHIR server are not what the task requires (found {found})"
    resources = [w.get("resource") or {} for w in writes]
    if not orders or _assignable(list(orders), resources):
        return None
    types = sorted(o.resource_type for o in orders)
    if sorted(str(r.get("resourceType")) for r in resources) != types:
        return f"the writes to the FHIR server are not what the task requires (found {found})"
    return "; ".join(_closest(orders, resources))


def _assignable(orders: list[Order], resources: list[Mapping[str, Any]]) -> bool:
    if not orders:
        return True
    first, rest = orders[0], orders[1:]
    for k, resource in enumerate(resources):
        fits = resource.get("resourceType") == first.resource_type and not first.problems(resource)
        if fits and _assignable(rest, resources[:k] + resources[k + 1:]):
            return True
    return False


def _closest(orders: tuple[Order, ...], resources: list[Mapping[str, Any]]) -> list[str]:
    reasons = []
    for order in orders:
        candidates = [order.problems(r) for r in resources if r.get("resourceType") == order.resource_type]
        wrong = min(candidates, key=len) if candidates else []
        if wrong:
            reasons.append(f"the {order.resource_type} ({order.name}) does not match the task on: {', '.join(wrong)}")
    return reasons or ["the writes to the FHIR server are not what the task requires"]


def _describe(writes: Sequence[Mapping[str, Any]]) -> str:
    if not writes:
        return "no writes"
    parts = [f"{w.get('interaction')} {(w.get('resource') or {}).get('resourceType')}" for w in writes]
    return f"{len(writes)} write{'s' if len(writes) != 1 else ''}: {', '.join(parts)}"
