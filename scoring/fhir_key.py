"""The answer key of a MedAgentBench-style FHIR task (`kind="fhir"`).

The key holds what the task's text fixes (its family, the patient's MRN, "now", the value to record
or the note to write, task 1's accepted answers), never a value read from the EHR: the expected
answer and the orders that are due are computed at grading time from the pristine FHIR data
(`scoring.fhir_rules`), which the agent's writes cannot change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MEDAGENTBENCH_NOW = "2023-11-13T10:15:00+00:00"


class FhirTaskKey(BaseModel):
    """A task scored on the submitted answer and on what the agent wrote to its episode's FHIR server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fhir"] = "fhir"
    family: int = Field(ge=1, le=10, description="MedAgentBench task family (task1 ... task10)")
    mrn: str = Field(min_length=1, description="the patient the task is about (MedAgentBench's eval_MRN)")
    now: str = Field(MEDAGENTBENCH_NOW, description="the task's 'now', an ISO date-time with offset")
    accepted: list[str] = Field(default_factory=list, description="family 1: the accepted answers")
    value: str | None = Field(None, description="family 3: the measurement to record, e.g. '118/77 mmHg'")
    note: str | None = Field(None, description="family 8: text the referral's note must contain")
