"""MedAgentBench: clinical tasks against a FHIR server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scoring.keys import AnswerKey, TextKey, UnscorableKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask

_LIVE = (
    "this task family is scored against the live state of a FHIR server, which medgym does not "
    "run yet; the task can be read but not scored"
)


class MedAgentBenchRecord(Record):
    id: str
    instruction: str
    context: str = ""
    sol: list[Any] | str | None = None


def family(task_id: str) -> str:
    return task_id.split("_", 1)[0]


def answer_key(rec: MedAgentBenchRecord) -> AnswerKey:
    """task1 (find a patient's MRN) has a static answer; the other families need the server."""
    if family(rec.id) == "task1" and rec.sol:
        accepted = rec.sol if isinstance(rec.sol, list) else [rec.sol]
        return TextKey(accepted=[str(item) for item in accepted])
    return UnscorableKey(reason=_LIVE)


class MedAgentBench(NoSideData):
    name: ClassVar[str] = "medagentbench"
    description: ClassVar[str] = "MedAgentBench: EHR agent tasks through a FHIR API"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("text",)
    data: ClassVar[DataSpec] = DataSpec(summary="a FHIR server (the benchmark's HAPI image); not mounted",
                                        external=True)

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = MedAgentBenchRecord.model_validate(raw)
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.id), category=family(rec.id),
            question=rec.instruction, context=rec.context or None, key=answer_key(rec), kind="text",
            how_to_submit="submit the answer as one string (e.g. the MRN, or \"Patient not found\")",
            instructions="The FHIR server is not reachable from this sandbox (no network).",
        ).build()
