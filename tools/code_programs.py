"""The programs a code grader runs, and what their results mean. Pure functions, no sandbox.

Feedback built here names what went wrong (crash, timeout, wrong output, failed assert) and, at
most, the name of a *built-in* exception. It never quotes the expected output, the harness, the
asserts, the reference, or any text the program printed: a submission's own output could carry
hidden material it read from its process, so none of it is echoed.
"""

from __future__ import annotations

import builtins
import re
import secrets
from dataclasses import dataclass

from sandbox.contract import ExecResult

_BUILTIN_ERRORS = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
)
_LAST_ERROR = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


def normalized_output(stdout: str) -> str:
    """stdout with line endings unified, trailing whitespace of each line and trailing blank lines removed."""
    lines = [line.rstrip() for line in stdout.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def builtin_error(name: str | None) -> str:
    """`name` if it is a built-in exception class, else a generic word (a custom class name could carry anything)."""
    return name if name in _BUILTIN_ERRORS else "an exception"


def crash_name(stderr: str) -> str | None:
    """The exception class on the last traceback line of `stderr`, when there is one."""
    for line in reversed(stderr.strip().splitlines()[-20:]):
        found = _LAST_ERROR.match(line.strip())
        if found:
            return found.group(1).rsplit(".", 1)[-1]
    return None


def run_problem(result: ExecResult, timeout_s: float) -> str | None:
    """Why a run did not finish normally (timeout, memory, crash), in words, or None."""
    if result.timed_out:
        return f"timed out after {timeout_s:g} s (an endless loop, or far too slow)"
    if result.oom_killed:
        return "ran out of memory"
    if result.exit_code != 0:
        name = crash_name(result.stderr)
        return f"crashed{' with ' + builtin_error(name) if name else ''} (exit code {result.exit_code})"
    return None


# -- asserts programs (BioDSBench style) ---------------------------------------------------------
@dataclass(frozen=True)
class AssertsProgram:
    source: str
    nonce: str


_DRIVER = '''\
import os as __mg_os
import sys as __mg_sys


def __mg_report(status):
    try:
        __mg_sys.stdout.flush()
    except Exception:
        pass
    __mg_os.write(1, ("\\n" + {nonce!r} + " " + status + "\\n").encode())


def __mg_run(source, name):
    try:
        exec(compile(source, name, "exec"), globals())
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return "exit"
    except AssertionError:
        return "assert"
    except BaseException as exc:
        return "error " + type(exc).__name__
    return None


__mg_failed = __mg_run({prefix!r}, "<prefix>")
if __mg_failed:
    __mg_report("prefix " + __mg_failed)
    __mg_os._exit(0)
__mg_failed = __mg_run({submission!r}, "<submission>")
if __mg_failed:
    __mg_report("submission " + __mg_failed)
    __mg_os._exit(0)
if "pd" not in globals():
    import pandas as pd
if "np" not in globals():
    import numpy as np
__mg_failed = __mg_run({tests!r}, "<tests>")
__mg_report("tests " + (__mg_failed or "passed"))
__mg_os._exit(0)
'''


def asserts_program(prefix: str, submission: str, tests: str) -> AssertsProgram:
    """Prefix, submission, then the asserts, each reported with a status line only this grading knows."""
    nonce = "medgym-grader-" + secrets.token_hex(16)
    source = _DRIVER.format(nonce=nonce, prefix=prefix, submission=submission, tests=tests)
    return AssertsProgram(source=source, nonce=nonce)


def asserts_status(result: ExecResult, nonce: str) -> str | None:
    """The driver's last status line ("tests passed", "submission error NameError", ...), or None."""
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(nonce + " "):
            return line[len(nonce) + 1:].strip()
    return None


@dataclass(frozen=True)
class AssertsVerdict:
    correct: bool
    feedback: str
    grader_fault: bool = False


def asserts_verdict(result: ExecResult, nonce: str, timeout_s: float) -> AssertsVerdict:
    """What one run of an asserts program says about the submission."""
    status = asserts_status(result, nonce)
    if status is None:
        problem = run_problem(result, timeout_s) or "ended before the tests ran (it exited or killed itself)"
        return AssertsVerdict(False, f"incorrect: your code {problem}")
    phase, _, detail = status.partition(" ")
    if phase == "prefix":
        return AssertsVerdict(False, "the task's prefix code failed", grader_fault=True)
    if phase == "submission":
        return AssertsVerdict(False, f"incorrect: your code {_failure(detail)}")
    if detail == "passed":
        return AssertsVerdict(True, "every hidden assert passed")
    if detail == "assert":
        return AssertsVerdict(False, "incorrect: a hidden assert failed (a variable has the wrong value or shape)")
    return AssertsVerdict(False, f"incorrect: the hidden tests raised {_test_error(detail)} on your variables "
                                 "(a variable the question names is missing or of the wrong type?)")


def _failure(detail: str) -> str:
    if detail == "exit":
        return "called sys.exit with a non-zero status"
    if detail == "assert":
        return "raised AssertionError"
    return f"raised {builtin_error(detail.removeprefix('error ').strip())}"


def _test_error(detail: str) -> str:
    return builtin_error(detail.removeprefix("error ").strip())
