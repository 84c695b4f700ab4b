"""EHR question answering over tables: MIMIC-III, eICU (EHRSQL), TREQS and EHR-SeqSQL."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from scoring.keys import ItemSetKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask

HOW_TO_SUBMIT = (
    "submit a list with every item of the answer, e.g. [\"po\", \"iv\"] or [42]; "
    "a single value may be submitted alone; submit [] when the answer is empty (no result). "
    "Order does not matter; every item counts."
)
_NOW = (
    "Questions about 'now', 'this year' or 'the current hospital visit' use EHRSQL's convention: "
    "the current time is 2105-12-31 23:59:00."
)


def readable_template(template: str) -> str:
    """An EHRSQL question template as a category a person can read:
    'has_verb patient {patient_id} been prescribed {drug_name1} [time_filter_global1]?' becomes
    'has patient been prescribed <drug>?'."""
    text = template.replace("has_verb", "has")
    text = re.sub(r"\[time_filter_\w+\]|\{patient_id\}", "", text)
    text = re.sub(r"\{(\w+?)(?:_name)?\d*\}", lambda m: "<" + m.group(1).replace("_", " ") + ">", text)
    text = re.sub(r"\[(\w+?)\d*\]", lambda m: "<" + m.group(1).replace("_", " ") + ">", text)
    return re.sub(r"\s+([?,.])", r"\1", " ".join(text.split())).strip()


def table_files(tables: str) -> tuple[str, ...]:
    """The allowlist of a table list ("admissions, chartevents"): each table's CSV, plain or gzipped."""
    return tuple(f"{name.strip()}.csv*" for name in tables.split(",") if name.strip())


def _instructions(db: str, tables: str) -> str:
    return (
        f"Answer the question from the {db} tables, CSV files under /data/<dataset>/ in the sandbox "
        f"({tables}). Write Python (pandas is available) with run_code, then submit the answer. "
        + _NOW
    )


def items_of(answer: object) -> list[str]:
    """The answer items as strings (records keep them as a list of strings already)."""
    values = answer if isinstance(answer, list) else [answer]
    return ["None" if item is None else str(item) for item in values]


class EHRSQLRecord(Record):
    question: str
    id: str | int
    answer: list[Any] | str | int | float | None
    tag: str = ""
    q_tag: str = ""
    template: str = ""


class _EHRSQL(NoSideData):
    name: ClassVar[str]
    description: ClassVar[str]
    tables: ClassVar[str]
    db_label: ClassVar[str]
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("list",)

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = EHRSQLRecord.model_validate(raw)
        category = readable_template(rec.q_tag or rec.tag or rec.template) or "question"
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.id), category=category,
            question=rec.question, key=ItemSetKey(items=items_of(rec.answer)), kind="list",
            how_to_submit=HOW_TO_SUBMIT,
            instructions=_instructions(self.db_label, self.tables).replace("<dataset>", self.name),
        ).build()


MIMIC_TABLES = (
    "admissions, chartevents, cost, d_icd_diagnoses, d_icd_procedures, d_items, d_labitems, "
    "diagnoses_icd, icustays, inputevents_cv, labevents, microbiologyevents, outputevents, "
    "patients, prescriptions, procedures_icd, transfers"
)
EICU_TABLES = (
    "allergy, cost, diagnosis, intakeoutput, lab, medication, microlab, patient, treatment, vitalperiodic"
)


class MIMICIII(_EHRSQL):
    name: ClassVar[str] = "mimic_iii"
    description: ClassVar[str] = "EHRSQL questions over the MIMIC-III tables (answer: a list of values)"
    db_label: ClassVar[str] = "MIMIC-III"
    tables: ClassVar[str] = MIMIC_TABLES
    data: ClassVar[DataSpec] = DataSpec(summary="the 17 MIMIC-III CSV tables", files=table_files(MIMIC_TABLES),
                                        required=("*.csv*",))


class EICU(_EHRSQL):
    name: ClassVar[str] = "eicu"
    description: ClassVar[str] = "EHRSQL questions over the eICU tables (answer: a list of values)"
    db_label: ClassVar[str] = "eICU"
    tables: ClassVar[str] = EICU_TABLES
    data: ClassVar[DataSpec] = DataSpec(summary="the 10 eICU CSV tables", files=table_files(EICU_TABLES),
                                        required=("*.csv*",))


class SeqSQLRecord(Record):
    question: str
    ans: list[Any] | str | int | float | None
    seed_question: str = ""


class EHRSeqSQL(NoSideData):
    name: ClassVar[str] = "ehr_seqsql"
    description: ClassVar[str] = "EHR-SeqSQL: follow-up questions over the MIMIC-III tables"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("list",)
    data: ClassVar[DataSpec] = DataSpec(summary="the MIMIC-III CSV tables", files=table_files(MIMIC_TABLES),
                                        required=("*.csv*",))

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = SeqSQLRecord.model_validate(raw)
        context = f"Earlier question in this conversation: {rec.seed_question}" if rec.seed_question else None
        return TaskParts(
            dataset=self.name, split=split, native_id=str(row), category="sequential question",
            question=rec.question, context=context, key=ItemSetKey(items=items_of(rec.ans)), kind="list",
            how_to_submit=HOW_TO_SUBMIT,
            instructions=_instructions("MIMIC-III", MIMICIII.tables).replace("<dataset>", self.name),
        ).build()


class TREQSRecord(Record):
    question: str
    id: str | int
    answer: list[Any] | str | int | float | None
    query: str = Field("", repr=False)


_TREQS_TABLES = ("demographic", "diagnoses", "lab", "prescriptions", "procedures")


def treqs_category(query: str) -> str:
    """A coarse question type from the (hidden) query: what is asked and which tables are joined."""
    lowered = query.lower()
    verb = "count" if "count (" in lowered or "count(" in lowered else (
        "aggregate" if re.search(r"\b(avg|min|max|sum)\s*\(", lowered) else "lookup")
    tables = [t for t in _TREQS_TABLES if re.search(rf"\b{t}\b", lowered)]
    return f"{verb}: {'+'.join(tables) or 'other'}"


class TREQS(NoSideData):
    name: ClassVar[str] = "treqs"
    description: ClassVar[str] = "TREQS: questions over five MIMIC-derived tables (answer: a list of values)"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("list",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="5 CSV tables: DEMOGRAPHIC, DIAGNOSES, LAB, PRESCRIPTIONS, PROCEDURES",
        files=table_files(", ".join(_TREQS_TABLES)), required=("*.csv*",),
    )

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = TREQSRecord.model_validate(raw)
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.id), category=treqs_category(rec.query),
            question=rec.question, key=ItemSetKey(items=items_of(rec.answer)), kind="list",
            how_to_submit=HOW_TO_SUBMIT + " A question asking for two things needs both.",
            instructions=(
                "Answer the question from the TREQS tables, CSV files under /data/treqs/ "
                "(DEMOGRAPHIC, DIAGNOSES, LAB, PRESCRIPTIONS, PROCEDURES). Write Python with run_code, "
                "then submit the answer."
            ),
        ).build()
