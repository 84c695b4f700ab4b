"""Run many reference solutions in a few fresh interpreters: each solution in its own namespace, with
`__name__ == "__main__"`, as `python -c SOURCE` runs it, but its libraries imported once per
interpreter instead of once per solution (an EHR solution's pandas import costs more than its query).

`flags` are the interpreter's (`-I -S`: no site-packages, so a solution cannot lean on anything
installed); `cwd` and `env` are the interpreters' as for `subprocess.run`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

WORKERS = 2

_DRIVER = """
import contextlib, io, json, sys, traceback
results = []
for source in json.load(sys.stdin):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<solution>", "exec"), {"__name__": "__main__"})
        lines = out.getvalue().strip().splitlines()
        results.append({"last": lines[-1] if lines else None})
    except SystemExit as exc:
        results.append({"error": f"exit {exc.code}"} if exc.code not in (None, 0) else
                       {"last": (out.getvalue().strip().splitlines() or [None])[-1]})
    except BaseException as exc:
        results.append({"error": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-600:]})
sys.stdout.write(json.dumps(results))
"""


@dataclass(frozen=True)
class Outcome:
    last_line: str | None  # the last line the solution printed (None: nothing, or it failed)
    error: str | None  # its exit or traceback when it failed

    def answer(self) -> object:
        """The last printed line as JSON."""
        assert self.error is None and self.last_line is not None, self.error or "printed nothing"
        return json.loads(self.last_line)


def run_solutions(sources: Sequence[str], flags: Sequence[str] = (), cwd: Path | None = None,
                  env: Mapping[str, str] | None = None, workers: int = WORKERS) -> list[Outcome]:
    """The outcome of each source, in order."""
    chunks = [list(sources[i::workers]) for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(lambda chunk: _run_chunk(chunk, flags, cwd, env), chunks))
    outcomes: list[Outcome] = [Outcome(None, None)] * len(sources)
    for i, chunk_outcomes in enumerate(done):
        outcomes[i::workers] = chunk_outcomes
    return outcomes


def _run_chunk(sources: list[str], flags: Sequence[str], cwd: Path | None,
               env: Mapping[str, str] | None) -> list[Outcome]:
    if not sources:
        return []
    proc = subprocess.run([sys.executable, *flags, "-c", _DRIVER], input=json.dumps(sources), capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=None if env is None else dict(env))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [Outcome(r.get("last"), r.get("error")) for r in json.loads(proc.stdout)]
