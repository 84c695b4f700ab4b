"""A patient's chart as the FHIR grading rules read it, taken from the pristine FHIR resources.

`ChartIndex.build` reads resources once (Patients, and Observations that have a quantity value
and an effective time) and answers `chart(mrn)`: the patient found the way MedAgentBench's grader
finds it (`Observation?patient=<MRN>`: the MRN is the patient's id; an identifier also works) and
their measurements per code. Pure: no I/O, no server.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


@dataclass(frozen=True)
class Measurement:
    time: datetime
    written: str  # effectiveDateTime exactly as stored
    value: float


@dataclass(frozen=True)
class Chart:
    """What the grading rules need of one patient (`patient_id` None: no such patient)."""

    patient_id: str | None
    birth_date: date | None = None
    labs: Mapping[str, tuple[Measurement, ...]] = field(default_factory=dict)

    def lab(self, code: str) -> tuple[Measurement, ...]:
        return self.labs.get(code, ())


def parse_instant(text: object) -> datetime | None:
    """An ISO date-time as an aware datetime (no offset: UTC); None when it is not one."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def codes_of(concept: object) -> set[str]:
    """The codes of a CodeableConcept's codings."""
    if not isinstance(concept, Mapping):
        return set()
    codings = concept.get("coding")
    return {str(c["code"]) for c in codings or [] if isinstance(c, Mapping) and "code" in c} if isinstance(
        codings, list) else set()


def reference_id(reference: object, resource_type: str = "Patient") -> str | None:
    """`Patient/X` (in a Reference) -> `X`."""
    text = reference.get("reference") if isinstance(reference, Mapping) else None
    if isinstance(text, str) and text.startswith(f"{resource_type}/"):
        return text.split("/", 1)[1]
    return None


def _measurement(resource: Mapping[str, Any]) -> Measurement | None:
    written = resource.get("effectiveDateTime")
    quantity = resource.get("valueQuantity")
    value = quantity.get("value") if isinstance(quantity, Mapping) else None
    moment = parse_instant(written)
    if moment is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Measurement(moment, str(written), float(value))


class ChartIndex:
    """Patients by id and identifier, and their measurements by code."""

    def __init__(self) -> None:
        self._patients: dict[str, Mapping[str, Any]] = {}
        self._identifiers: dict[str, str] = {}
        self._labs: dict[str, dict[str, list[Measurement]]] = defaultdict(lambda: defaultdict(list))

    @classmethod
    def build(cls, resources: Iterable[Mapping[str, Any]]) -> ChartIndex:
        index = cls()
        for resource in resources:
            index.add(resource)
        return index

    def add(self, resource: Mapping[str, Any]) -> None:
        kind = resource.get("resourceType")
        if kind == "Patient" and isinstance(resource.get("id"), str):
            self._add_patient(resource)
        elif kind == "Observation":
            patient = reference_id(resource.get("subject"))
            measurement = _measurement(resource)
            if patient is not None and measurement is not None:
                for code in codes_of(resource.get("code")):
                    self._labs[patient][code].append(measurement)

    def _add_patient(self, resource: Mapping[str, Any]) -> None:
        self._patients[resource["id"]] = resource
        for identifier in resource.get("identifier") or []:
            if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
                self._identifiers.setdefault(identifier["value"], resource["id"])

    def patient_id(self, mrn: str) -> str | None:
        return mrn if mrn in self._patients else self._identifiers.get(mrn)

    def chart(self, mrn: str) -> Chart:
        patient_id = self.patient_id(mrn)
        if patient_id is None:
            return Chart(None)
        labs = {code: tuple(items) for code, items in self._labs.get(patient_id, {}).items()}
        return Chart(patient_id, _birth_date(self._patients[patient_id]), labs)

    def __len__(self) -> int:
        return len(self._patients)


def _birth_date(patient: Mapping[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(patient.get("birthDate"))[:10])
    except ValueError:
        return None
