"""Code-writing datasets: BioCoder (write a function) and BioDSBench (data analysis code).

Their submissions are code, graded in a separate fresh grader sandbox (`tools.code_grader`):

- BioCoder: the record's `context` (with `<<insert solution here>>`) is the hidden harness; the
  submission is spliced into it by syntax tree and its printed output must equal the output of
  the `solution` spliced the same way. What the agent sees never holds a definition of the target
  function (some contexts contain a complete implementation of it: it is scrubbed).
- BioDSBench: `code_histories` (prefix), then the submission, then `test_cases` (asserts). The
  records read their study's files from `/workdir/`: the grader mounts `data/<study_id>/` there,
  and the statement the agent sees names the same files where its sandbox has them,
  `/data/biodsbench/data/<study_id>/`.

`reference_solution` of these tasks is the code to submit (`solution` / `reference_answer`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from scoring.code_keys import AssertsKey, FunctionOutputKey
from scoring.code_splice import function_name, scrub
from scoring.keys import AnswerKey, UnscorableKey
from task_store.adapters.base import DataSpec, NoSideData, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask

BIOCODER_TIMEOUT_S = 60.0
BIOCODER_INSTRUCTIONS = (
    "Write the Python function described. Submit its complete definition (`def {name}(...):` with its body) as "
    "one string with submit_answer. The grader puts your definition where the surrounding code marks it and "
    "runs that program in a fresh sandbox (numpy, scipy, pandas, scikit-learn, scikit-image and pysam "
    "are installed); the program's printed output must equal what the reference implementation prints. "
    "Imports your function needs may go at the top of your submission. A submission that is not valid Python "
    "or does not define {name} is refused without using an attempt."
)
BIODSBENCH_INSTRUCTIONS = (
    "Write Python analysis code and submit it as one string with submit_answer. It is graded in a fresh "
    "sandbox: the code already run before yours (if any) runs first, then your code, then hidden asserts "
    "over the variables the question names; it is correct only when every assert passes. Your code must "
    "load the data itself; the study's files are at {folder}."
)
STUDY_MOUNT = "/data/biodsbench/data"


class BioCoderRecord(Record):
    idx: str | int
    problem: str
    signature: str
    context: str = ""
    solution: str = ""


class BioCoder(NoSideData):
    name: ClassVar[str] = "biocoder"
    description: ClassVar[str] = "BioCoder: write a bioinformatics Python function from its description"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("code",)
    data: ClassVar[DataSpec] = DataSpec(summary="none (scientific Python packages in the sandbox image)")

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = BioCoderRecord.model_validate(raw)
        name = function_name(rec.signature)
        if name is None:
            raise ValueError(f"the signature names no function: {rec.signature[:80]!r}")
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.idx), category="python function",
            question=rec.problem, context=_shown_context(rec, name), key=_biocoder_key(rec, name), kind="code",
            how_to_submit=f"submit the complete definition of the function {name} as Python source text",
            instructions=BIOCODER_INSTRUCTIONS.format(name=name), title=" ".join(rec.signature.split()),
        ).build().model_copy(update={"reference_solution": rec.solution or None})


def _shown_context(rec: BioCoderRecord, name: str) -> str:
    surrounding = scrub(rec.context, name) if rec.context.strip() else ""
    parts = [f"Signature: {rec.signature}"]
    if surrounding:
        parts.append(f"Surrounding code (your function goes where it is marked):\n{surrounding}")
    elif surrounding is None:
        parts.append("(the surrounding code of this task cannot be shown: it does not parse)")
    return "\n\n".join(parts)


def _biocoder_key(rec: BioCoderRecord, name: str) -> AnswerKey:
    if not rec.solution.strip() or not rec.context.strip():
        return UnscorableKey(reason="the record has no reference solution or no test harness")
    return FunctionOutputKey(function=name, harness=rec.context, reference=rec.solution,
                             timeout_s=BIOCODER_TIMEOUT_S)


class BioDSBenchRecord(Record):
    queries: str
    dataframes: str = ""
    code_histories: str = ""
    cot_instructions: str = ""
    study_ids: str | int
    question_ids: str | int
    test_cases: str = ""
    reference_answer: str = ""


def _prefix(code_histories: str) -> str:
    try:
        parsed = json.loads(code_histories) if code_histories.strip() else []
    except ValueError:
        return _python_list(code_histories)
    if isinstance(parsed, list):
        return "\n".join(str(part) for part in parsed)
    return str(parsed)


def _python_list(text: str) -> str:
    """`['import os', ...]` (a Python list literal, as the public records write it) as code lines."""
    from medgym import pyast

    try:
        parsed = pyast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return "\n".join(str(part) for part in parsed) if isinstance(parsed, list) else text


def study_folder(study_id: str) -> str:
    """Where a study's files are in the agent's sandbox."""
    return f"{STUDY_MOUNT}/{study_id}"


def _shown(text: str, study_id: str) -> str:
    """The record's `/workdir` paths as the agent's sandbox has them."""
    return re.sub(r"/workdir\b", study_folder(study_id), text)


class BioDSBench(NoSideData):
    name: ClassVar[str] = "biodsbench"
    description: ClassVar[str] = "BioDSBench: biomedical data-science analyses over cBioPortal studies"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("code",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="cBioPortal study CSVs under data/<study_id>/", files=("data",), required=("data",)
    )

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = BioDSBenchRecord.model_validate(raw)
        study = clean_id(rec.study_ids)
        prefix = _prefix(rec.code_histories).strip()
        parts = [f"Data:\n{_shown(rec.dataframes, study)}"]
        if prefix:
            parts.append(f"Code already run before yours:\n{_shown(prefix, study)}")
        if rec.cot_instructions:
            parts.append(f"Suggested steps:\n{_shown(rec.cot_instructions, study)}")
        return TaskParts(
            dataset=self.name, split=split, native_id=f"{study}-{clean_id(rec.question_ids)}",
            category=f"study {study}", question=_shown(rec.queries, study), context="\n\n".join(parts),
            key=_biodsbench_key(rec, study, prefix), kind="code",
            how_to_submit="submit the Python code that performs the analysis and defines the named variables",
            instructions=BIODSBENCH_INSTRUCTIONS.format(folder=study_folder(study) + "/"),
        ).build().model_copy(update={"reference_solution": rec.reference_answer or None})


def _biodsbench_key(rec: BioDSBenchRecord, study: str, prefix: str) -> AnswerKey:
    if not rec.test_cases.strip():
        return UnscorableKey(reason="the record has no test cases")
    return AssertsKey(prefix=prefix, tests=rec.test_cases, reference=rec.reference_answer,
                      workdir_folder=f"data/{study}")
