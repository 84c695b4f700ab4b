"""Reference outputs of function-output tasks, cached server side (memory, then a file under the medgym home).

Keyed by task id, a hash of the harness and the reference, and the sandbox image: a changed task or
image never reuses a stale output. The files hold expected outputs (ground truth): they live only
under the medgym home, which no sandbox ever mounts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def cache_key(task_id: str, harness: str, reference: str, image: str) -> str:
    digest = hashlib.sha256()
    for part in (task_id, harness, reference, image):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


class ReferenceCache:
    def __init__(self, directory: Path | None):
        self._directory = directory
        self._memory: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        if key in self._memory:
            return self._memory[key]
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            output = str(json.loads(path.read_text(encoding="utf-8"))["stdout"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring an unreadable reference-output cache file")
            return None
        self._memory[key] = output
        return output

    def put(self, key: str, stdout: str) -> None:
        self._memory[key] = stdout
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as handle:
                json.dump({"stdout": stdout}, handle)
            os.replace(handle.name, path)
        except OSError as exc:  # the memory cache still holds it
            log.warning("could not write the reference-output cache: %s", exc)

    def _path(self, key: str) -> Path | None:
        return self._directory / f"{key}.json" if self._directory is not None else None
