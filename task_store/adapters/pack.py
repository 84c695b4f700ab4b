"""The built-in pack's datasets: their task files already hold complete `IndexedTask` records."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from task_store.adapters.base import DataSpec
from task_store.models import AnswerKind, IndexedTask


class _Pack:
    name: ClassVar[str]
    description: ClassVar[str]
    answer_kinds: ClassVar[tuple[AnswerKind, ...]]
    data: ClassVar[DataSpec]

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        item = IndexedTask.model_validate(raw)
        if item.task.dataset != self.name or item.task.split != split:
            raise ValueError(f"record of {item.task.dataset}/{item.task.split} in the {self.name} {split} file")
        return item

    def side_data(self, directory: Path) -> Mapping[str, str]:
        return {}


class PackEHR(_Pack):
    name: ClassVar[str] = "medgym_ehr"
    description: ClassVar[str] = (
        "built-in pack: EHRSQL-style questions over a synthetic MIMIC-III-shaped database (no data agreement)"
    )
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("list",)
    data: ClassVar[DataSpec] = DataSpec(summary="synthetic MIMIC-III tables as CSV + SQLite",
                                        files=("*.csv", "*.sqlite"), required=("*.csv",))


class PackCalc(_Pack):
    name: ClassVar[str] = "medgym_calc"
    description: ClassVar[str] = "built-in pack: MedCalcBench-style clinical calculators over synthetic notes"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("number", "integer", "date", "gestational_age")
    data: ClassVar[DataSpec] = DataSpec(summary="none: every task is self-contained")


class PackPower(_Pack):
    name: ClassVar[str] = "medgym_power"
    description: ClassVar[str] = "built-in pack: N-PowerAI-style sample size and power questions"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("integer", "number")
    data: ClassVar[DataSpec] = DataSpec(summary="none: every task is self-contained")


class PackFhir(_Pack):
    name: ClassVar[str] = "medgym_fhir"
    description: ClassVar[str] = (
        "built-in pack: MedAgentBench's ten task families over a synthetic FHIR EHR, each episode with its own "
        "FHIR server"
    )
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("text", "integer", "number", "list")
    data: ClassVar[DataSpec] = DataSpec(summary="synthetic EHR as FHIR resources (fhir/ehr.json), served by a FHIR "
                                                "server per episode; nothing is mounted", fhir=True)


class PackBio(_Pack):
    name: ClassVar[str] = "medgym_bio"
    description: ClassVar[str] = (
        "built-in pack: BioCoder-style bioinformatics functions and BioDSBench-style analyses of synthetic cohorts"
    )
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("code",)
    data: ClassVar[DataSpec] = DataSpec(summary="synthetic cBioPortal-style cohort CSVs",
                                        files=("cohorts/*/*.csv",), required=("cohorts/*/*.csv",))
