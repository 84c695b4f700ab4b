"""`ast.parse` and `ast.literal_eval`, one thread at a time.

CPython 3.11 counts the depth of the Python objects it builds from a syntax tree in one counter per
interpreter, not per thread. When two threads build trees at once (a thread switch inside the
builder: its allocations can run a garbage collection, and that runs Python finalizers), the count
goes wrong and the call raises `SystemError: AST constructor recursion depth mismatch` on valid
source (python/cpython#106905). The server parses in several threads (a grader's worker thread
splices a submission while another grades, the catalog loads in the background), so every parse of
the server's goes through here; ruff's banned-API rule (TID251) keeps it so.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_LOCK = threading.RLock()


def parse(source: str) -> ast.Module:
    """`ast.parse(source)`; raises what it raises (SyntaxError, ValueError, RecursionError, MemoryError)."""
    with _LOCK:
        return ast.parse(source)  # noqa: TID251 - the one place that may


def literal_eval(text: str) -> Any:
    """`ast.literal_eval(text)`; raises what it raises."""
    with _LOCK:
        return ast.literal_eval(text)  # noqa: TID251 - the one place that may
