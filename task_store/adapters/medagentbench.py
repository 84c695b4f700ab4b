"""MedAgentBench: clinical tasks against a FHIR server, all ten families scored.

Each episode gets its own FHIR server loaded with the benchmark's EHR, which the user supplies as
FHIR resources under `<root>/medagentbench/fhir/` (JSON or NDJSON, e.g. an export of the
benchmark's HAPI server; see docs/FHIR.md). The key holds what the task text fixes; the expected
answer is computed at grading time from those files (`scoring.fhir_rules`). `funcs_v1.json` beside
the task files is shown to the agent with its base URL filled in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from scoring.fhir_key import MEDAGENTBENCH_NOW, FhirTaskKey
from task_store.adapters.base import DataSpec, Record, TaskParts, clean_id
from task_store.fhir_api import PACK_FUNCTIONS, instructions
from task_store.models import AnswerKind, IndexedTask

FUNCTIONS_FILE = "funcs_v1.json"
_NOW = re.compile(r"It's (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d) now")
_QUOTED_VALUE = re.compile(r'it is "([^"]+)"')
_REFERRAL_NOTE = re.compile(r'free text of the referral, "(.+)"', re.S)
KINDS: dict[int, AnswerKind] = {1: "text", 2: "integer", 3: "text", 8: "text", 10: "list"}
HOW_TO_SUBMIT = 'the answer as MedAgentBench\'s FINISH takes it: a JSON list, e.g. ["S1234567"], [54], [1.8], [-1]'


class MedAgentBenchRecord(Record):
    id: str
    instruction: str
    context: str = ""
    sol: list[Any] | str | None = None
    eval_MRN: str | None = None


def family(task_id: str) -> str:
    return task_id.split("_", 1)[0]


def family_number(task_id: str) -> int:
    number = int(family(task_id).removeprefix("task"))
    if not 1 <= number <= 10:
        raise ValueError(f"unknown MedAgentBench task family {family(task_id)!r}")
    return number


def answer_key(rec: MedAgentBenchRecord) -> FhirTaskKey:
    """What the task's text fixes: family, patient, now, the value to record or the note to write."""
    number = family_number(rec.id)
    fields: dict[str, Any] = {"family": number, "mrn": rec.eval_MRN or "", "now": _now(rec.context)}
    if number == 1:
        accepted = rec.sol if isinstance(rec.sol, list) else [rec.sol] if rec.sol else []
        fields["accepted"] = [str(item) for item in accepted]
        if not fields["accepted"]:
            raise ValueError("a task1 record needs its `sol`")
    elif number == 3:
        fields["value"] = _search(_QUOTED_VALUE, rec.instruction, "the measured value")
    elif number == 8:
        fields["note"] = _search(_REFERRAL_NOTE, rec.instruction, "the referral's free text")
    if not fields["mrn"]:
        fields["mrn"] = fields.get("accepted", ["-"])[0]
    return FhirTaskKey.model_validate(fields)


def _now(context: str) -> str:
    found = _NOW.search(context or "")
    return found.group(1) if found else MEDAGENTBENCH_NOW


def _search(pattern: re.Pattern[str], text: str, what: str) -> str:
    found = pattern.search(text)
    if found is None:
        raise ValueError(f"cannot find {what} in the instruction")
    return found.group(1).strip()


class MedAgentBench:
    name: ClassVar[str] = "medagentbench"
    description: ClassVar[str] = "MedAgentBench: EHR agent tasks through a FHIR API (a FHIR server per episode)"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("text", "integer", "number", "list")
    data: ClassVar[DataSpec] = DataSpec(
        summary="the benchmark's EHR as FHIR resources (JSON or NDJSON) under fhir/, loaded into a FHIR server per "
                "episode; nothing is mounted", fhir=True)

    def side_data(self, directory: Path) -> Mapping[str, str]:
        """The agent's function list (funcs_v1.json), or the pack's equivalent when it is missing."""
        path = directory / FUNCTIONS_FILE
        functions = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else PACK_FUNCTIONS
        return {"instructions": instructions(functions)}

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = MedAgentBenchRecord.model_validate(raw)
        key = answer_key(rec)
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.id), category=family(rec.id),
            question=rec.instruction, context=rec.context or None, key=key, kind=KINDS.get(key.family, "number"),
            how_to_submit=HOW_TO_SUBMIT, instructions=side.get("instructions", ""),
        ).build()
