"""Code-writing datasets: BioCoder (write a function) and BioDSBench (data analysis code).

Their submissions are code, graded by running it in a separate fresh grader container. That
grader is not part of this release, so these tasks are listed and shown but not scored yet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from scoring.keys import UnscorableKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask

CODE_GRADER_PENDING = (
    "code submissions are graded in a separate grader container, which this medgym release does "
    "not include yet; the task can be read and worked on, but not scored"
)


class BioCoderRecord(Record):
    idx: str | int
    problem: str
    signature: str
    context: str = ""


class BioCoder(NoSideData):
    name: ClassVar[str] = "biocoder"
    description: ClassVar[str] = "BioCoder: write a bioinformatics Python function from its description"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("code",)
    data: ClassVar[DataSpec] = DataSpec(summary="none (scientific Python packages in the sandbox image)")

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = BioCoderRecord.model_validate(raw)
        context = rec.context.replace("<<insert solution here>>", "# <<your function goes here>>")
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.idx), category="python function",
            question=rec.problem, context=f"Signature: {rec.signature}\n\nSurrounding code:\n{context}",
            key=UnscorableKey(reason=CODE_GRADER_PENDING), kind="code",
            how_to_submit="submit the complete function definition as Python source",
            title=f"{rec.signature}",
        ).build()


class BioDSBenchRecord(Record):
    queries: str
    dataframes: str = ""
    code_histories: str = ""
    cot_instructions: str = ""
    study_ids: str | int
    question_ids: str | int


def _prefix(code_histories: str) -> str:
    try:
        parsed = json.loads(code_histories) if code_histories.strip() else []
    except ValueError:
        return code_histories
    if isinstance(parsed, list):
        return "\n".join(str(part) for part in parsed)
    return str(parsed)


class BioDSBench(NoSideData):
    name: ClassVar[str] = "biodsbench"
    description: ClassVar[str] = "BioDSBench: biomedical data-science analyses over cBioPortal studies"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("code",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="cBioPortal study CSVs under data/<study_id>/", files=("data",), required=("data",)
    )

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = BioDSBenchRecord.model_validate(raw)
        parts = [f"Data:\n{rec.dataframes}"]
        if prefix := _prefix(rec.code_histories).strip():
            parts.append(f"Code already run before yours:\n{prefix}")
        if rec.cot_instructions:
            parts.append(f"Suggested steps:\n{rec.cot_instructions}")
        return TaskParts(
            dataset=self.name, split=split, native_id=f"{clean_id(rec.study_ids)}-{clean_id(rec.question_ids)}",
            category=f"study {rec.study_ids}", question=rec.queries, context="\n\n".join(parts),
            key=UnscorableKey(reason=CODE_GRADER_PENDING), kind="code",
            how_to_submit="submit the Python code that performs the analysis",
        ).build()
