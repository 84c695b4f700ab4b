"""Putting a submitted function into a harness, and taking the target function out of what is shown,
both by syntax tree (never by string replacement, which corrupts indented methods upstream).

A harness is a Python program holding the marker `<<insert solution here>>` on a line of its own
(at any indentation: a method goes inside its class). `splice` parses the harness with the marker
turned into a placeholder statement, replaces that statement with the submission's statements and
drops every other definition of the target function in the same block (some BioCoder contexts
define the very function again after the marker, which would silently override the submission).
"""

from __future__ import annotations

import ast
import copy
import re

from medgym import pyast
from medgym.errors import AnswerFormatError, DataError

MARKER = "<<insert solution here>>"
SHOWN_MARKER = "# <<your function goes here>>"
MAX_SUBMISSION_CHARS = 200_000
TOO_DEEP = ("the submission nests expressions too deeply to be graded (e.g. a very long chain of + or of calls); "
            "split it into separate statements")
_SLOT = "__medgym_solution_slot__"
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


class HarnessError(DataError):
    """The harness itself cannot take a submission (it does not parse, or has no place for one)."""


def function_name(signature: str) -> str | None:
    """`filter_kmers` from `def filter_kmers(kmers, ...)` (decorator lines before it are skipped)."""
    found = re.search(r"\bdef\s+([A-Za-z_]\w*)\s*\(", signature)
    return found.group(1) if found else None


def read_submission(code: object, name: str) -> list[ast.stmt]:
    """The statements of a submitted function definition; `AnswerFormatError` if it is not one."""
    if not isinstance(code, str) or not code.strip():
        raise AnswerFormatError(f"submit the complete definition of the function {name} as Python source text")
    tree = _parse_submission(code)
    if not any(isinstance(node, _FUNCTIONS) and node.name == name for node in tree.body):
        raise AnswerFormatError(f"the submission must define the function {name} at its top level: submit its "
                                f"complete definition (def {name}(...): ...)")
    try:  # what splicing does with it: a submission nested too deeply for that is refused here, not crashed on
        copy.deepcopy(tree.body)
        ast.unparse(tree)
    except (RecursionError, MemoryError):
        raise AnswerFormatError(TOO_DEEP) from None
    return tree.body


def read_analysis(code: object) -> str:
    """Submitted analysis code (BioDSBench style); `AnswerFormatError` unless it is Python source text."""
    if not isinstance(code, str) or not code.strip():
        raise AnswerFormatError("submit your analysis code as Python source text")
    _parse_submission(code)
    return code


def _parse_submission(code: str) -> ast.Module:
    if len(code) > MAX_SUBMISSION_CHARS:
        raise AnswerFormatError(f"the submission is longer than {MAX_SUBMISSION_CHARS} characters")
    try:
        return pyast.parse(code)
    except (SyntaxError, ValueError) as exc:
        where = f"line {exc.lineno}: " if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise AnswerFormatError(f"the submission is not valid Python ({where}{_reason(exc)})") from None
    except (RecursionError, MemoryError):  # the parser's own limits (deeply nested expressions)
        raise AnswerFormatError(TOO_DEEP) from None


def _reason(exc: SyntaxError | ValueError) -> str:
    return exc.msg if isinstance(exc, SyntaxError) else str(exc)[:100]


def splice(harness: str, name: str, statements: list[ast.stmt]) -> str:
    """The harness program with `statements` in place of its marker (or of its definition of `name`)."""
    tree = _parse(harness)
    block, index = _slot(tree) or _definition(tree, name)
    kept = [s for i, s in enumerate(block) if i == index or not _defines(s, name)]
    index = next(i for i, s in enumerate(kept) if s is block[index])
    kept[index:index + 1] = copy.deepcopy(statements)
    block[:] = kept
    return ast.unparse(ast.fix_missing_locations(tree))


def _parse(harness: str) -> ast.Module:
    try:
        return pyast.parse(harness.replace(MARKER, _SLOT))
    except SyntaxError as exc:
        raise HarnessError(f"the harness does not parse (line {exc.lineno}: {exc.msg})") from None


def _blocks(tree: ast.AST) -> list[list[ast.stmt]]:
    """Every statement list of the tree (module, class and function bodies, branches)."""
    found: list[list[ast.stmt]] = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                found.append(value)
    return found


def _is_slot(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Name) and statement.value.id == _SLOT


def _defines(statement: ast.stmt, name: str) -> bool:
    return isinstance(statement, _FUNCTIONS) and statement.name == name


def _slot(tree: ast.Module) -> tuple[list[ast.stmt], int] | None:
    for block in _blocks(tree):
        for index, statement in enumerate(block):
            if _is_slot(statement):
                return block, index
    return None


def _definition(tree: ast.Module, name: str) -> tuple[list[ast.stmt], int]:
    for block in _blocks(tree):
        for index, statement in enumerate(block):
            if _defines(statement, name):
                return block, index
    raise HarnessError(f"the harness has neither the insertion marker nor a definition of {name}")


def scrub(context: str, name: str) -> str | None:
    """`context` without any definition of `name` (decorators included) and with the marker shown as a
    comment; None when it does not parse (then it cannot be scrubbed safely and is not shown)."""
    try:
        tree = pyast.parse(context.replace(MARKER, _SLOT))
    except SyntaxError:
        return None
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS) and node.name == name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            drop.update(range(first, (node.end_lineno or node.lineno) + 1))
    lines = [line for number, line in enumerate(context.splitlines(), start=1) if number not in drop]
    return "\n".join(lines).replace(MARKER, SHOWN_MARKER)


def definition_of(code: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The top-level definition of `name` in `code` (a reference solution)."""
    for node in pyast.parse(code).body:
        if isinstance(node, _FUNCTIONS) and node.name == name:
            return node
    raise HarnessError(f"the reference does not define {name}")


def stub_variants(reference: str, name: str) -> dict[str, str]:
    """Trivial or broken versions of the reference, which a sound harness must tell apart from it:
    `pass`, `return None`, `raise NotImplementedError` and the reference without its last statement."""
    variants: dict[str, str] = {}
    for label, body in (("pass", "pass"), ("return None", "return None"),
                        ("raise NotImplementedError", "raise NotImplementedError")):
        variants[label] = _with_body(reference, name, pyast.parse(body).body)
    original = definition_of(reference, name).body
    variants["without its last statement"] = _with_body(reference, name, original[:-1] or pyast.parse("pass").body)
    return variants


def _with_body(reference: str, name: str, body: list[ast.stmt]) -> str:
    tree = pyast.parse(reference)
    for node in tree.body:
        if isinstance(node, _FUNCTIONS) and node.name == name:
            node.body = copy.deepcopy(body)
    return ast.unparse(ast.fix_missing_locations(tree))
