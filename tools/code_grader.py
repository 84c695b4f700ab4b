"""Grading code submissions in a fresh grader sandbox, never the agent's.

One grading is one new container (same image and limits as an episode's, no network, started
through `SandboxProvider.start_fresh` so it carries the label `medgym.episode=<episode>-grader`),
destroyed in a `finally`. Hidden material (harness, asserts, reference) reaches it only inside the
program text sent to `Sandbox.run`; the only mounts are the ones the agent's sandbox gets (the dataset's
allowlisted data, read-only; the built-in pack's as volume copies) and, for BioDSBench, the task's study
folder at /workdir (inside that allowlist). The agent's own sandbox is never touched.

- `FunctionOutputKey`: the reference's output is computed once per task (three runs that must agree,
  in their own grader container) and cached; the submission spliced into the harness must print the
  same, trailing whitespace aside. stderr never matters.
- `AssertsKey`: prefix, submission, asserts in one run; correct only if every assert passes.

A failure that is not the submission's fault raises `GraderError` (not counted as an attempt).
"""

from __future__ import annotations

import ast
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import assert_never

import anyio.to_thread

from medgym.errors import AnswerFormatError, GraderError, SandboxError, TaskNotScorableError
from sandbox.contract import ExecResult, Mount, Sandbox, SandboxSpec
from scoring.code_keys import AssertsKey, FunctionOutputKey
from scoring.code_splice import TOO_DEEP, HarnessError, read_analysis, read_submission, splice
from scoring.score import AnswerValue, Score
from task_store import data
from task_store.store import TaskStore
from tools.code_programs import asserts_program, asserts_verdict, normalized_output, run_problem
from tools.reference_cache import ReferenceCache, cache_key
from tools.sandboxes import SandboxProvider

log = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 4 << 20
REFERENCE_RUNS = 3  # runs of the reference that must print the same (certification runs it more often)
WORKDIR = "/workdir"
NONDETERMINISTIC = "its reference solution prints different output on repeated runs (randomness or time)"
CodeKey = FunctionOutputKey | AssertsKey


class ReferenceFailed(GraderError):
    """The task's own reference could not produce an output to compare with; `reason` says how."""

    def __init__(self, reason: str):
        super().__init__("this task's reference solution failed in the grader (a problem of the task, not of your "
                         "submission); it was not counted as an attempt")
        self.reason = reason


def grader_labels(episode_label: str, task_id: str) -> dict[str, str]:
    return {"medgym.episode": f"{episode_label}-grader", "medgym.task": task_id, "medgym.role": "grader"}


@dataclass(frozen=True)
class Run:
    """Where a grading runs: whose label, which task, which extra mounts."""

    label: str
    task_id: str
    mounts: tuple[Mount, ...] = ()

    @property
    def dataset(self) -> str:
        return self.task_id.split("/", 1)[0]


class CodeGrader:
    """Grades code answers; long-lived (built once per server, holds the reference-output cache)."""

    def __init__(self, store: TaskStore | Callable[[], TaskStore], sandboxes: SandboxProvider, cache: ReferenceCache):
        self._store = store if callable(store) else (lambda: store)  # the server's is loaded in the background
        self._sandboxes = sandboxes
        self._cache = cache

    async def grade(self, episode_id: str, task_id: str, key: CodeKey, answer: AnswerValue) -> Score:
        """Score a code answer in fresh grader sandboxes (blocking work runs in a worker thread)."""
        started = time.monotonic()
        score = await anyio.to_thread.run_sync(functools.partial(self.grade_blocking, episode_id, task_id, key, answer))
        log.info("graded %s in %.0f ms: correct=%s", task_id, (time.monotonic() - started) * 1000, score.correct)
        return score

    def grade_blocking(self, label: str, task_id: str, key: CodeKey, answer: AnswerValue) -> Score:
        key = key.model_copy(update={"timeout_s": min(key.timeout_s, self._sandboxes.limits.max_timeout_s)})
        match key:
            case FunctionOutputKey():
                return self._grade_function(Run(label, task_id), key, answer)
            case AssertsKey():
                return self._grade_asserts(Run(label, task_id, self.workdir_mounts(task_id, key)), key, answer)
        assert_never(key)

    # -- function output (BioCoder) ---------------------------------------------------------------
    def _grade_function(self, run: Run, key: FunctionOutputKey, answer: AnswerValue) -> Score:
        statements = read_submission(answer, key.function)
        expected = self.reference_output(run, key)
        program = submission_program(key, statements)
        [result] = self.run_programs(run, [program], key.timeout_s)
        return function_verdict(result, expected, key.timeout_s)

    def reference_output(self, run: Run, key: FunctionOutputKey, fresh: bool = False) -> str:
        """The reference's normalised output: cached, or from two runs in a grader container that must agree."""
        ident = cache_key(run.task_id, key.harness, key.reference, self._sandboxes.image)
        cached = None if fresh else self._cache.get(ident)
        if cached is not None:
            return cached
        program = reference_program(key)
        runs = self.run_programs(run, [program] * REFERENCE_RUNS, key.timeout_s)
        outputs = {reference_stdout(result, key.timeout_s) for result in runs}
        if len(outputs) > 1:
            raise TaskNotScorableError(f"this task cannot be scored: {NONDETERMINISTIC}")
        output = outputs.pop()
        self._cache.put(ident, output)
        return output

    # -- asserts (BioDSBench) -----------------------------------------------------------------------
    def _grade_asserts(self, run: Run, key: AssertsKey, answer: AnswerValue) -> Score:
        code = analysis_code(answer)
        program = asserts_program(key.prefix, code, key.tests)
        [result] = self.run_programs(run, [program.source], key.timeout_s)
        verdict = asserts_verdict(result, program.nonce, key.timeout_s)
        if verdict.grader_fault:
            raise GraderError("this task's prefix code failed in the grader (a problem of the task, not of your "
                              "submission); it was not counted as an attempt")
        return code_score("code_asserts", verdict.correct, verdict.feedback)

    def workdir_mounts(self, task_id: str, key: AssertsKey) -> tuple[Mount, ...]:
        """The task's study folder at /workdir (read-only), if the key names one and it is here.

        Only a folder inside what the dataset's allowlist mounts into the agent's sandbox (`data.mounts`)
        is mounted, served the same way (a data directory's as a bind mount)."""
        if key.workdir_folder is None:
            return ()
        dataset = task_id.split("/", 1)[0]
        root = self._store().root_of(dataset)
        folder = root.path / dataset / key.workdir_folder if root is not None else None
        if root is None or folder is None or not folder.is_dir():
            raise TaskNotScorableError(f"this task's data is not on this server: the {dataset} data directory has no "
                                       f"{key.workdir_folder}/ folder (`medgym doctor` lists what is missing)")
        if root.label == "pack":  # copied pack data is served at /data/<dataset>/ only (one volume per sandbox)
            raise TaskNotScorableError(f"built-in pack tasks read their data from /data/{dataset}/, not /workdir")
        real = folder.resolve()
        allowed = data.mounts(root.path / dataset, dataset)
        if not any(real == m.source or real.is_relative_to(m.source) for m in allowed):
            raise TaskNotScorableError(f"{key.workdir_folder}/ is not among the {dataset} files a sandbox may see, "
                                       "so it is never mounted")
        return (Mount(source=real, target=WORKDIR),)

    # -- the grader sandbox ---------------------------------------------------------------------------
    def run_programs(self, run: Run, programs: list[str], timeout_s: float) -> list[ExecResult]:
        """Run `programs` one after the other in one fresh grader container, destroyed afterwards."""
        spec = self._sandboxes.spec(run.dataset, grader_labels(run.label, run.task_id))
        spec = replace(spec, mounts=(*spec.mounts, *run.mounts))
        box = self._start(spec)
        try:
            return [box.run(program, timeout_s, MAX_OUTPUT_BYTES) for program in programs]
        except SandboxError as exc:
            log.warning("grader sandbox failed on %s: %s", run.task_id, type(exc).__name__)
            raise GraderError("the grader sandbox failed while running the code; try again (it was not counted "
                              "as an attempt)") from None
        finally:
            box.close()

    def _start(self, spec: SandboxSpec) -> Sandbox:
        try:
            return self._sandboxes.start_fresh(spec)
        except SandboxError as exc:
            log.warning("the grader sandbox could not start: %s", exc)
            raise GraderError("the grader sandbox could not start; try again later (the submission was not "
                              "counted as an attempt)") from None


def _spliced(key: FunctionOutputKey, statements: list[ast.stmt]) -> str:
    """The harness around `statements` (`RecursionError` when the two together nest too deeply)."""
    try:
        return splice(key.harness, key.function, statements)
    except HarnessError as exc:
        raise ReferenceFailed(f"the harness cannot take a function: {exc}") from None


def submission_program(key: FunctionOutputKey, statements: list[ast.stmt]) -> str:
    """The harness with the submission spliced in (`AnswerFormatError`, not an attempt, if it nests too deeply)."""
    try:
        return _spliced(key, statements)
    except RecursionError:
        raise AnswerFormatError(TOO_DEEP) from None


def reference_program(key: FunctionOutputKey) -> str:
    """The harness with the reference spliced in (`ReferenceFailed` if that is impossible)."""
    try:
        statements = read_submission(key.reference, key.function)
        return _spliced(key, statements)
    except (AnswerFormatError, RecursionError) as exc:
        raise ReferenceFailed(f"the reference is not usable: {exc}") from None


def reference_stdout(result: ExecResult, timeout_s: float) -> str:
    """The normalised output of a reference run (`ReferenceFailed` unless it ran cleanly)."""
    problem = run_problem(result, timeout_s)
    if problem is not None:
        raise ReferenceFailed(f"the reference {problem}")
    if result.output_truncated:
        raise ReferenceFailed("the reference printed more than the grader keeps")
    return normalized_output(result.stdout)


def function_verdict(result: ExecResult, expected: str, timeout_s: float) -> Score:
    problem = run_problem(result, timeout_s)
    if problem is not None:
        return code_score("code_output", False, f"incorrect: the program {problem} with your function")
    if not result.output_truncated and normalized_output(result.stdout) == expected:
        return code_score("code_output", True, "the program printed the expected output with your function")
    return code_score("code_output", False, "incorrect: wrong output (what the program printed with your function "
                                            "differs from what it prints with the reference)")


def analysis_code(answer: AnswerValue) -> str:
    """The submitted analysis code; `AnswerFormatError` (not an attempt) unless it is Python source."""
    return read_analysis(answer)


def code_score(verifier: str, correct: bool, feedback: str) -> Score:
    return Score(correct=correct, score=1.0 if correct else 0.0, feedback=feedback, verifier=verifier, error=None)
