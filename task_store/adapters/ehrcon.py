"""EHRCon: is a clinical note consistent with the structured tables for one entity?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from scoring.keys import BooleanKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask


class EHRConRecord(Record):
    admission: str | int | float = Field(alias="Hospital admission")
    entity: str = Field(alias="Medical entity")
    inconsistencies: int = Field(alias="Number of inconsistencies")
    has_error: bool = Field(alias="Has error")


class EHRCon(NoSideData):
    name: ClassVar[str] = "ehrcon"
    description: ClassVar[str] = (
        "EHRCon: decide whether a clinical note contradicts the EHR tables about one medical entity"
    )
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("boolean",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="EHRCon_combined.db (SQLite) and clinical_notes.csv",
        files=("EHRCon_combined.db", "clinical_notes.csv"),
        required=("EHRCon_combined.db", "clinical_notes.csv"),
    )

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = EHRConRecord.model_validate(raw)
        admission = clean_id(rec.admission)
        question = (
            f"For hospital admission {admission}, does the clinical note contain any statement about "
            f"'{rec.entity}' that is inconsistent with the structured EHR tables?"
        )
        return TaskParts(
            dataset=self.name, split=split, native_id=str(row), category="note-table consistency",
            question=question, key=BooleanKey(value=rec.has_error), kind="boolean",
            how_to_submit="submit true if there is at least one inconsistency, otherwise false",
            instructions=(
                "The notes are in /data/ehrcon/clinical_notes.csv and the tables in the SQLite database "
                "/data/ehrcon/EHRCon_combined.db (open it read-only: "
                "sqlite3.connect('file:/data/ehrcon/EHRCon_combined.db?mode=ro&immutable=1', uri=True)). "
                "One submission per episode."
            ),
            title=f"admission {admission}: is '{rec.entity}' consistent?",
        ).build()
