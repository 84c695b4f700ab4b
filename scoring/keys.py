"""Answer keys: the hidden ground truth of a task, one typed model per scoring rule.

Keys live only on the server (the task index and the verifiers). They are never part of a
`Task`, a tool result, a log line, a container or an export.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from scoring.code_keys import AssertsKey, FunctionOutputKey
from scoring.fhir_key import FhirTaskKey
from scoring.prediction_keys import PredictionsKey as PredictionsKey  # re-exported: one of the key kinds


class _Key(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RangeKey(_Key):
    """A number that must lie in `[lower, upper]` (MedCalcBench numeric calculators)."""

    kind: Literal["range"] = "range"
    lower: float
    upper: float


class DateKey(_Key):
    """A calendar date (MedCalcBench due date and conception date), ISO `YYYY-MM-DD`."""

    kind: Literal["date"] = "date"
    date: str


class GestationalAgeKey(_Key):
    """Gestational age as (weeks, days) (MedCalcBench)."""

    kind: Literal["gestational_age"] = "gestational_age"
    weeks: int
    days: int


class IntegerKey(_Key):
    """An exact integer (N-PowerAI sample size)."""

    kind: Literal["integer"] = "integer"
    value: int


class RelativeKey(_Key):
    """A number within a relative tolerance (N-PowerAI power: 1%)."""

    kind: Literal["relative"] = "relative"
    value: float
    rel_tol: float = 0.01


class ItemSetKey(_Key):
    """A set of answer items compared after normalisation (EHR question answering)."""

    kind: Literal["item_set"] = "item_set"
    items: list[str]


class BooleanKey(_Key):
    """One boolean (EHRCon: does the note contradict the tables?)."""

    kind: Literal["boolean"] = "boolean"
    value: bool


class TextKey(_Key):
    """One string from a list of accepted strings, compared case-folded and trimmed."""

    kind: Literal["text"] = "text"
    accepted: list[str]


class UnscorableKey(_Key):
    """No verifier can score this task here; `reason` says why and what would be needed."""

    kind: Literal["unscorable"] = "unscorable"
    reason: str


AnswerKey = Annotated[
    RangeKey | DateKey | GestationalAgeKey | IntegerKey | RelativeKey | ItemSetKey | BooleanKey | TextKey
    | FhirTaskKey | UnscorableKey | PredictionsKey | FunctionOutputKey | AssertsKey,
    Field(discriminator="kind"),
]
