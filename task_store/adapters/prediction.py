"""Prediction datasets: EHRSHOT and MIMIC-Extract (train a model, predict for test patients).

Scoring needs the test labels, which must never be mounted into the agent's sandbox, and a
predictions file scored over all test patients; this release lists these tasks but does not
score them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from scoring.keys import UnscorableKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask

_PENDING = (
    "prediction tasks are scored from a predictions file over all test patients against labels "
    "kept outside the sandbox; this medgym release does not score them yet"
)


class EHRSHOTRecord(Record):
    task_id: int | str
    task_name: str
    task_description: str


class MIMICExtractRecord(Record):
    task_name: str
    task_description: str
    task_category: str = ""


_HOW = "submit predictions (not scored in this release)"
_NEVER = ("*label*", "*labels*")


class EHRSHOT(NoSideData):
    name: ClassVar[str] = "ehrshot"
    description: ClassVar[str] = "EHRSHOT: few-shot clinical prediction from CLMBR patient features"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("predictions",)
    data: ClassVar[DataSpec] = DataSpec(summary="CLMBR feature pickles and label CSVs", files=("**/*.pkl",),
                                        required=("**/*.pkl",),
                                        never_mount=_NEVER)

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = EHRSHOTRecord.model_validate(raw)
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.task_id), category=rec.task_name,
            question=rec.task_description, key=UnscorableKey(reason=_PENDING), kind="predictions",
            how_to_submit=_HOW, title=f"{rec.task_name}: {rec.task_description}",
        ).build()


class MIMICExtract(NoSideData):
    name: ClassVar[str] = "mimic_extract"
    description: ClassVar[str] = "MIMIC-Extract: mortality, length-of-stay and intervention prediction"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("predictions",)
    data: ClassVar[DataSpec] = DataSpec(summary="feature pickles and label CSVs", files=("**/*.pkl",),
                                        required=("**/*.pkl",),
                                        never_mount=_NEVER)

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = MIMICExtractRecord.model_validate(raw)
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.task_name),
            category=rec.task_category or "prediction", question=rec.task_description,
            key=UnscorableKey(reason=_PENDING), kind="predictions", how_to_submit=_HOW,
            title=f"{rec.task_name}: {rec.task_description}",
        ).build()
