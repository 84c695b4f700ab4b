"""MedCalcBench: clinical calculator questions over a patient note."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from scoring.keys import AnswerKey, DateKey, GestationalAgeKey, RangeKey
from task_store.adapters.base import DataSpec, Record, TaskParts
from task_store.models import AnswerKind, IndexedTask

_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_GESTATION = re.compile(r"^\s*\(\s*'(\d+) weeks?'\s*,\s*'(\d+) days?'\s*\)\s*$")

_HOW = {
    "number": "submit one number (e.g. 12.5), no units",
    "date": "submit the date as MM/DD/YYYY (e.g. 08/31/2023)",
    "gestational_age": "submit weeks and days, e.g. \"W weeks D days\" or [W, D] with whole numbers",
}


class MedCalcRecord(Record):
    row_number: int = Field(alias="Row Number")
    calculator_id: int | str = Field(alias="Calculator ID")
    calculator_name: str = Field(alias="Calculator Name")
    patient_note: str = Field(alias="Patient Note")
    question: str = Field(alias="Question")
    ground_truth: str | float | int = Field(alias="Ground Truth Answer")
    lower: str | float | int = Field(alias="Lower Limit")
    upper: str | float | int = Field(alias="Upper Limit")


def answer_key(ground_truth: str, lower: str, upper: str) -> tuple[AnswerKey, AnswerKind]:
    """The MedCalcBench answer key: a date, a gestational age, or a numeric range."""
    if match := _DATE.match(ground_truth):
        month, day, year = (int(g) for g in match.groups())
        return DateKey(date=datetime(year, month, day).date().isoformat()), "date"
    if match := _GESTATION.match(ground_truth):
        return GestationalAgeKey(weeks=int(match[1]), days=int(match[2])), "gestational_age"
    return RangeKey(lower=float(lower), upper=float(upper)), "number"


class MedCalcBench:
    name: ClassVar[str] = "medcalcbench"
    description: ClassVar[str] = (
        "MedCalcBench: compute a clinical calculator (scores, formulas, dates) from a patient note"
    )
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("number", "date", "gestational_age")
    data: ClassVar[DataSpec] = DataSpec(summary="none: every task is self-contained")

    def side_data(self, directory: Path) -> Mapping[str, str]:
        """Calculator name -> short summary of its method, from calculation_method.jsonl."""
        path = directory / "calculation_method.jsonl"
        if not path.is_file():
            return {}
        summaries: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                summaries[str(item.get("Calculator"))] = str(item.get("Short Summary", ""))
        return summaries

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = MedCalcRecord.model_validate(raw)
        key, kind = answer_key(str(rec.ground_truth), str(rec.lower), str(rec.upper))
        summary = side.get(rec.calculator_name, "")
        instructions = "Read the patient note and compute the requested value."
        if summary:
            instructions += f"\n\nHow this calculator works: {summary}"
        return TaskParts(
            dataset=self.name, split=split, native_id=str(rec.row_number),
            category=rec.calculator_name, question=rec.question, context=rec.patient_note,
            key=key, kind=kind, how_to_submit=_HOW[kind], instructions=instructions,
            title=f"{rec.calculator_name}: {rec.question}",
        ).build()
