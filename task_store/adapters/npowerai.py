"""N-PowerAI: sample size and power calculations for study designs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from scoring.keys import IntegerKey, RelativeKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts
from task_store.models import AnswerKind, IndexedTask


class NPowerRecord(Record):
    task_type: str
    task_id: int | str
    estimate_target: Literal["size", "power"]
    question: str
    answer: float | int


class NPowerAI(NoSideData):
    name: ClassVar[str] = "npowerai"
    description: ClassVar[str] = "N-PowerAI: sample size and statistical power for common study designs"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("integer", "number")
    data: ClassVar[DataSpec] = DataSpec(summary="none: every task is self-contained")

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = NPowerRecord.model_validate(raw)
        if rec.estimate_target == "size":
            if float(rec.answer) != int(rec.answer):
                raise ValueError(f"sample size answer is not an integer: {rec.answer!r}")
            key: IntegerKey | RelativeKey = IntegerKey(value=int(rec.answer))
            how = "submit the required sample size as one integer (e.g. 120)"
            kind: Literal["integer", "number"] = "integer"
        else:
            key = RelativeKey(value=float(rec.answer), rel_tol=0.01)
            how = "submit the power as a number between 0 and 1 (e.g. 0.85); within 1% relative counts"
            kind = "number"
        return TaskParts(
            dataset=self.name, split=split, native_id=str(row),
            category=rec.task_type, question=rec.question, key=key, kind=kind, how_to_submit=how,
            instructions="Statistical power analysis; statsmodels and scipy are available in the sandbox.",
            title=f"{rec.task_type} ({rec.estimate_target}): {rec.question}",
        ).build()
