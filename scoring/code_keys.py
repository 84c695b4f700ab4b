"""Answer keys of code submissions: what a grader needs to run and judge them. Server side only.

Two ways a submission of code is judged (both run in a fresh grader sandbox, never the agent's):

- `FunctionOutputKey` (BioCoder and its built-in analogue): the submission is one function
  definition; it is spliced by syntax tree into a hidden harness in place of the reference, and the
  harness's printed output must equal the output of the same harness with the reference spliced in.
- `AssertsKey` (BioDSBench and its built-in analogue): the submission is analysis code; it runs after
  the task's prefix code and before hidden asserts over variables the statement names. It is correct
  only when every assert passes.

For code tasks `IndexedTask.reference_solution` is the code to submit (the reference function
definition, or the reference analysis code), never a program printing an answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_GRADE_TIMEOUT_S = 60.0


class _CodeKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(DEFAULT_GRADE_TIMEOUT_S, gt=0, description="per grader run (reference or submission)")


class FunctionOutputKey(_CodeKey):
    """A function spliced into `harness`; its stdout must equal the reference's (trailing whitespace aside)."""

    kind: Literal["function_output"] = "function_output"
    function: str = Field(description="the name of the function the submission must define")
    harness: str = Field(description="the program around it: `<<insert solution here>>` marks where it goes "
                                     "(or the harness defines a function of that name, which is replaced)")
    reference: str = Field(description="the reference function definition")


class AssertsKey(_CodeKey):
    """Prefix code, then the submission, then `tests` (asserts); correct when every assert passes."""

    kind: Literal["asserts"] = "asserts"
    prefix: str = ""
    tests: str
    reference: str = Field("", description="reference analysis code (certification only)")
    workdir_folder: str | None = Field(
        None, description="a folder of the dataset directory mounted read-only at /workdir in the grader "
                          "(BioDSBench reads its study files from there)")


CODE_KEY_KINDS: frozenset[str] = frozenset({"function_output", "asserts"})
