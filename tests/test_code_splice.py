"""Splicing a submitted function into a harness and scrubbing the target from what is shown, by syntax
tree; every public BioCoder record checked for leaks of its reference. No Docker needed."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medgym.errors import AnswerFormatError
from scoring.code_splice import (
    MARKER,
    HarnessError,
    function_name,
    read_analysis,
    read_submission,
    scrub,
    splice,
    stub_variants,
)
from task_store.adapters.code import BioCoder, BioDSBench
from tools.code_programs import asserts_program, asserts_verdict, builtin_error, crash_name, normalized_output

INDENTED_HARNESS = f'''class Outer:
    class Inner:
        def __init__(self):
            self.items = [3, 1, 2]

        {MARKER}

        def get_sorted(self):
            """a complete implementation the context should not show"""
            return "the context's own version"

    def run(self):
        return self.Inner().get_sorted()


print(Outer().run())
'''
SUBMISSION = '''def get_sorted(self):
    if True:
        values = sorted(self.items)
    return values
'''


def _run(program: str) -> str:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30).stdout


def test_splice_puts_an_indented_method_in_its_class_and_drops_the_contexts_own_definition() -> None:
    program = splice(INDENTED_HARNESS, "get_sorted", read_submission(SUBMISSION, "get_sorted"))
    assert _run(program).strip() == "[1, 2, 3]"
    inner = next(n for n in ast.walk(ast.parse(program)) if isinstance(n, ast.ClassDef) and n.name == "Inner")
    assert [n.name for n in inner.body if isinstance(n, ast.FunctionDef)] == ["__init__", "get_sorted"]


def test_string_replacement_would_have_corrupted_it() -> None:
    """The upstream bug this avoids: `str.replace` pastes the submission at column 0 inside the class."""
    naive = INDENTED_HARNESS.replace(MARKER, SUBMISSION)
    with pytest.raises(SyntaxError):
        ast.parse(naive)


def test_splice_without_marker_replaces_the_named_definition() -> None:
    harness = "def f(x):\n    return 0\n\nprint(f(2))\n"
    program = splice(harness, "f", read_submission("def f(x):\n    return x * 10\n", "f"))
    assert _run(program).strip() == "20"
    with pytest.raises(HarnessError):
        splice("print(1)\n", "f", read_submission("def f():\n    pass\n", "f"))


def test_nested_marker_inside_a_function_body() -> None:
    harness = f"def outer():\n    {MARKER}\n    return helper(4)\n\nprint(outer())\n"
    program = splice(harness, "helper", read_submission("def helper(n):\n    return n + 1\n", "helper"))
    assert _run(program).strip() == "5"


@pytest.mark.parametrize("answer", [42, None, "", "   ", "print(", "this is prose, not code",
                                    "def other(x):\n    return x\n", "get_sorted = lambda self: 1",
                                    "class get_sorted:\n    pass\n"])
def test_a_submission_that_is_not_the_function_is_a_format_error(answer: object) -> None:
    with pytest.raises(AnswerFormatError) as caught:
        read_submission(answer, "get_sorted")
    assert "get_sorted" in str(caught.value) or "Python" in str(caught.value)


DEEP = {
    "not-chain": "def f():\n    return " + "not " * 40_000 + "1",  # the parser runs out of memory
    "call-chain": "def f():\n    return f" + "()" * 60_000,  # the parser's recursion limit
    "sum-of-300": "def f():\n    return " + "+".join(["1"] * 300),  # parses, but too deep to copy and splice
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_a_submission_nested_too_deeply_is_a_format_error(name: str) -> None:
    with pytest.raises(AnswerFormatError, match="nests expressions too deeply"):
        read_submission(DEEP[name], "f")
    if name != "sum-of-300":  # analysis code is only parsed here (it runs as text in the grader)
        with pytest.raises(AnswerFormatError, match="nests expressions too deeply"):
            read_analysis(DEEP[name])
    assert splice("<<insert solution here>>\nprint(f())\n", "f", read_submission(
        "def f():\n    return " + "+".join(["1"] * 150), "f"))  # long but shallow enough: graded


def test_helpers_and_imports_in_a_submission_are_kept() -> None:
    statements = read_submission("import math\n\ndef g(x):\n    return math.sqrt(x)\n\ndef f(x):\n    return g(x)\n",
                                 "f")
    program = splice(f"{MARKER}\nprint(f(16))\n", "f", statements)
    assert _run(program).strip() == "4.0"


def test_scrub_removes_every_definition_of_the_target_with_its_decorators() -> None:
    context = f"import functools\n\n@functools.lru_cache\ndef target(x):\n    return 'secret body'\n{MARKER}\n" \
              "class A:\n    def target(self):\n        return 'another secret'\n    def keep(self):\n        pass\n"
    shown = scrub(context, "target")
    assert shown is not None
    assert "secret" not in shown and "lru_cache" not in shown and "def keep" in shown
    assert "<<your function goes here>>" in shown and MARKER not in shown
    assert scrub("def broken(:\n", "target") is None


def test_stub_variants_keep_module_level_statements() -> None:
    reference = "TABLE = {'a': 1}\n\n\ndef f(x):\n    y = TABLE[x]\n    return y\n"
    variants = stub_variants(reference, "f")
    assert set(variants) == {"pass", "return None", "raise NotImplementedError", "without its last statement"}
    assert all("TABLE = " in code for code in variants.values())
    assert "return y" not in variants["without its last statement"]


def test_function_name_skips_decorators() -> None:
    assert function_name("@property\ndef repeat_count(self)") == "repeat_count"
    assert function_name("no function here") is None


def test_output_normalisation_and_error_names() -> None:
    assert normalized_output("a  \r\nb\t\n\n\n") == "a\nb"
    assert crash_name("Traceback ...\n  File x\nValueError: bad\n") == "ValueError"
    assert builtin_error("ValueError") == "ValueError"
    assert builtin_error("assert_x_equals_3") == "an exception"  # a custom class name never reaches feedback


def test_the_asserts_driver_reports_each_phase() -> None:
    from sandbox.contract import ExecResult

    def verdict(submission: str, tests: str = "assert answer == 3\n") -> str:
        program = asserts_program("import os", submission, tests)
        done = subprocess.run([sys.executable, "-c", program.source], capture_output=True, text=True, timeout=30)
        result = ExecResult(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr, duration_ms=1)
        found = asserts_verdict(result, program.nonce, 5)
        return ("correct " if found.correct else "") + found.feedback

    assert verdict("answer = 3").startswith("correct")
    assert "hidden assert failed" in verdict("answer = 4")
    assert "raised ZeroDivisionError" in verdict("answer = 1 / 0")
    assert "ended before the tests ran" in verdict("import os\nos._exit(0)")
    assert "tests raised NameError" in verdict("x = 1")
    assert verdict("answer = 3\nimport sys\nsys.exit(0)").startswith("correct")  # a clean exit still gets tested
    secret = "assert answer == 3, 'hidden message'\n"
    assert "hidden message" not in verdict("answer = 4", secret)


# -- every public BioCoder record: nothing of the reference in what an agent sees -------------------------
def _records(shared: Path, dataset: str, name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (shared / dataset / name).read_text(encoding="utf-8").splitlines() if line]


def _normalized(text: str) -> str:
    return " ".join(text.split())


def test_no_biocoder_task_view_contains_its_reference_or_a_definition_of_the_target(shared_dir: Path) -> None:
    records = _records(shared_dir, "biocoder", "test_tasks.jsonl")
    assert len(records) == 40
    leaked_upstream = 0
    for row, record in enumerate(records, start=1):
        item = BioCoder().parse(record, "test", row, {})
        task = item.task
        shown = "\n".join([task.question, task.context or "", task.instructions])
        name = function_name(str(record["signature"]))
        assert name is not None
        body = ast.parse(str(record["solution"])).body[0]
        assert isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef)
        statements = body.body[1:] if isinstance(body.body[0], ast.Expr) and len(body.body) > 1 else body.body
        body_text = _normalized("\n".join(ast.unparse(s) for s in statements))
        original = _normalized("\n".join(str(record["solution"]).splitlines()[1:]))
        assert body_text not in _normalized(shown) and original not in _normalized(shown), task.task_id
        surrounding = (task.context or "").split("marked):\n", 1)[-1]
        tree = ast.parse(surrounding.replace("# <<your function goes here>>", "pass"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                    and n.name == name], task.task_id
        assert not re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", surrounding, re.M)
        leaked_upstream += bool(re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", str(record["context"]), re.M))
        assert item.key.kind == "function_output" and item.reference_solution == record["solution"]
    assert leaked_upstream >= 5  # the upstream contexts that define the target (filter_kmers, ...) were scrubbed


def test_biodsbench_statements_name_the_sandbox_paths(shared_dir: Path) -> None:
    for row, record in enumerate(_records(shared_dir, "biodsbench", "train_tasks.jsonl"), start=1):
        item = BioDSBench().parse(record, "train", row, {})
        text = item.task.model_dump_json()
        assert "/workdir" not in text and "/data/biodsbench/data/" in text
        assert str(record["test_cases"]).strip()[:40] not in text
        assert item.key.kind == "asserts" and item.key.workdir_folder == f"data/{record['study_ids']}"
