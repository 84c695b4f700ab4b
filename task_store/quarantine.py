"""Tasks of a user's data directory that certification found unscorable, kept under the medgym home.

A data directory may be read-only (and is the user's), so its quarantine is a file beside the index,
`<home>/quarantined_tasks.json` ({task_id: reason}), applied every time the store is opened: such a
task stays listed and readable, with `scorable: false`, the reason in its instructions, and an
`UnscorableKey` so a submission is refused with that reason (never counted). The built-in pack
quarantines by moving records out of its own split files instead (`task_store.pack.build.quarantine`).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from scoring.keys import UnscorableKey
from task_store.models import Task

FILE_NAME = "quarantined_tasks.json"


def load(home: Path) -> dict[str, str]:
    path = home / FILE_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record(home: Path, reasons: dict[str, str], certified: set[str]) -> None:
    """Add `reasons` to the quarantine and lift it from tasks that now certify (`certified`)."""
    merged = {k: v for k, v in load(home).items() if k not in certified}
    merged.update(reasons)
    home.mkdir(parents=True, exist_ok=True)
    (home / FILE_NAME).write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def apply(conn: sqlite3.Connection, home: Path, root_ids: list[str]) -> int:
    """Mark the quarantined tasks of `root_ids` unscorable in the index; returns how many changed."""
    changed = 0
    for task_id, reason in load(home).items():
        for root in root_ids:
            changed += _mark(conn, root, task_id, reason)
    return changed


def _mark(conn: sqlite3.Connection, root: str, task_id: str, reason: str) -> int:
    row = conn.execute("SELECT task_json, scorable FROM tasks WHERE root=? AND task_id=?", (root, task_id)).fetchone()
    if row is None or not row[1]:
        return 0
    task = Task.model_validate_json(row[0])
    note = f"Not scored on this server: certification found that {reason}."
    instructions = f"{task.instructions}\n\n{note}" if task.instructions else note
    updated = task.model_copy(update={"scorable": False, "instructions": instructions})
    conn.execute("UPDATE tasks SET scorable=0, task_json=? WHERE root=? AND task_id=?",
                 (updated.model_dump_json(), root, task_id))
    conn.execute("UPDATE hidden SET key_json=? WHERE root=? AND task_id=?",
                 (UnscorableKey(reason=f"certification found that {reason}").model_dump_json(), root, task_id))
    return 1
