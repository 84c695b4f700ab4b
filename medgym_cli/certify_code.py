"""Certify code tasks (BioCoder / BioDSBench style) in fresh grader sandboxes.

A function-output task is certified when its reference, spliced into the harness, runs cleanly and
prints the same output six times, and every trivial or broken function (`pass`, `return None`,
`raise NotImplementedError`, the reference without its last statement) prints something else or
fails. An asserts task is certified when its reference passes every assert and `pass` and empty
code do not. Each task runs in one grader container (all its runs), destroyed afterwards. A task
whose data is missing here is skipped (reported, never quarantined).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from medgym.errors import TaskNotScorableError
from scoring.code_keys import AssertsKey, FunctionOutputKey
from scoring.code_splice import HarnessError, read_submission, splice, stub_variants
from scoring.keys import AnswerKey
from task_store.models import Task
from task_store.store import TaskStore
from tools.code_grader import (
    NONDETERMINISTIC,
    CodeGrader,
    ReferenceFailed,
    Run,
    function_verdict,
    reference_program,
    reference_stdout,
)
from tools.code_programs import asserts_program, asserts_verdict
from tools.reference_cache import ReferenceCache
from tools.sandboxes import SandboxProvider

TRIVIAL_ANALYSES = {"pass": "pass", "empty code": ""}
REFERENCE_RUNS = 6  # a coin-flip harness prints the same six times with probability 1/32


@dataclass(frozen=True)
class CodeOutcome:
    task_id: str
    reference_ok: bool
    trivial_ok: bool
    detail: str
    skipped: bool = False
    seconds: float = 0.0


def certify_code_task(grader: CodeGrader, task_id: str, key: AnswerKey) -> CodeOutcome:
    """Run a code task's reference and trivial answers in one grader container and judge them."""
    started = time.monotonic()
    try:
        match key:
            case FunctionOutputKey():
                outcome = _function(grader, task_id, key)
            case AssertsKey():
                outcome = _asserts(grader, task_id, key)
            case _:
                outcome = CodeOutcome(task_id, False, True, f"not a code task ({key.kind})")
    except ReferenceFailed as exc:
        outcome = CodeOutcome(task_id, False, True, exc.reason)
    except TaskNotScorableError as exc:
        outcome = CodeOutcome(task_id, False, True, f"skipped: {exc}", skipped=True)
    return CodeOutcome(**{**outcome.__dict__, "seconds": round(time.monotonic() - started, 2)})


def _function(grader: CodeGrader, task_id: str, key: FunctionOutputKey) -> CodeOutcome:
    reference = reference_program(key)
    stubs = {label: _stub_program(key, code) for label, code in stub_variants(key.reference, key.function).items()}
    programs = [reference] * REFERENCE_RUNS + list(stubs.values())
    results = grader.run_programs(Run("certify", task_id), programs, key.timeout_s)
    outputs = [reference_stdout(r, key.timeout_s) for r in results[:REFERENCE_RUNS]]
    if len(set(outputs)) > 1:
        return CodeOutcome(task_id, False, True, NONDETERMINISTIC)
    first = outputs[0]
    passing = [label for label, result in zip(stubs, results[REFERENCE_RUNS:], strict=True)
               if function_verdict(result, first, key.timeout_s).correct]
    if passing:
        return CodeOutcome(task_id, True, False, "a trivial function prints the reference's output: "
                                                 + ", ".join(passing))
    return CodeOutcome(task_id, True, True, "ok")


def _stub_program(key: FunctionOutputKey, code: str) -> str:
    try:
        return splice(key.harness, key.function, read_submission(code, key.function))
    except HarnessError as exc:
        raise ReferenceFailed(str(exc)) from None


def _asserts(grader: CodeGrader, task_id: str, key: AssertsKey) -> CodeOutcome:
    run = Run("certify", task_id, grader.workdir_mounts(task_id, key))
    answers = {"reference": key.reference, **TRIVIAL_ANALYSES}
    programs = {label: asserts_program(key.prefix, code, key.tests) for label, code in answers.items()}
    results = grader.run_programs(run, [p.source for p in programs.values()], key.timeout_s)
    verdicts = {label: asserts_verdict(result, programs[label].nonce, key.timeout_s)
                for label, result in zip(programs, results, strict=True)}
    if any(v.grader_fault for v in verdicts.values()):
        return CodeOutcome(task_id, False, True, "the prefix code fails")
    if not verdicts["reference"].correct:
        reason = verdicts["reference"].feedback.removeprefix("incorrect: ").replace("your code", "the reference")
        return CodeOutcome(task_id, False, True, reason)
    passing = [label for label in TRIVIAL_ANALYSES if verdicts[label].correct]
    if passing:
        return CodeOutcome(task_id, True, False, "a trivial answer passes the asserts: " + ", ".join(passing))
    return CodeOutcome(task_id, True, True, "ok")


def is_code_dataset(store: TaskStore, tasks: list[Task]) -> bool:
    """True when the tasks are code tasks (their answers are code)."""
    return bool(tasks) and all(t.answer_format.kind == "code" for t in tasks)


def certify_tasks(store: TaskStore, sandboxes: SandboxProvider, tasks: list[Task]) -> Iterator[CodeOutcome]:
    """Certify each code task in its own fresh grader container (nothing cached)."""
    grader = CodeGrader(store, sandboxes, ReferenceCache(None))
    for task in tasks:
        yield certify_code_task(grader, task.task_id, store.answer_key(task.task_id))
