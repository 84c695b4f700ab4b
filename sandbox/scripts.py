"""The in-container scripts (`sandbox/incontainer/`), as source text for the host to send.

They run inside the sandbox image's own Python with the standard library (and pandas) only, so
host code never imports them (an import-linter contract says so); it reads their source here and
sends it through the runner's input.
"""

from __future__ import annotations

import functools
from pathlib import Path

INCONTAINER = Path(__file__).with_name("incontainer")
INSPECT_MARK = "<<medgym-inspect>>"  # the inspector prefixes its one-line JSON answer with this


@functools.cache
def source(name: str) -> str:
    """The text of `sandbox/incontainer/<name>.py`."""
    return (INCONTAINER / f"{name}.py").read_text(encoding="utf-8")
