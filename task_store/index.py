"""The SQLite task index: every record of every data root, searchable and pageable.

Tables: `sources` (one row per indexed task file, with its signature), `tasks` (public task
JSON plus filter columns), `hidden` (answer keys and reference solutions; server side only) and
`task_text` (an FTS5 trigram index over question + context, for substring search).
A file is re-read only when its signature (size, mtime, index version) changes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from medgym.private import private_file
from task_store.adapters import ADAPTERS
from task_store.loader import LoadError, TaskFile, discover, read_file
from task_store.models import IndexedTask

INDEX_VERSION = 2  # 2: readable EHRSQL template categories

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    root TEXT NOT NULL, path TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT NOT NULL,
    signature TEXT NOT NULL, records INTEGER NOT NULL, errors TEXT NOT NULL,
    PRIMARY KEY (root, path));
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, root TEXT NOT NULL, task_id TEXT NOT NULL,
    dataset TEXT NOT NULL, split TEXT NOT NULL, category TEXT NOT NULL, title TEXT NOT NULL,
    source TEXT NOT NULL, line INTEGER NOT NULL, scorable INTEGER NOT NULL, task_json TEXT NOT NULL,
    UNIQUE (root, task_id));
CREATE INDEX IF NOT EXISTS tasks_filter ON tasks (root, dataset, split, category);
CREATE TABLE IF NOT EXISTS hidden (
    root TEXT NOT NULL, task_id TEXT NOT NULL, key_json TEXT NOT NULL, reference TEXT,
    PRIMARY KEY (root, task_id));
CREATE VIRTUAL TABLE IF NOT EXISTS task_text USING fts5(text, tokenize='trigram');
"""


@dataclass
class SyncReport:
    """What a sync found: records per (dataset, split) and malformed records."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    files_read: int = 0


def connect(path: Path) -> sqlite3.Connection:
    """Open the store (WAL, foreign-key free, shared by concurrent medgym processes)."""
    private_file(path)  # its WAL and shared-memory files take the same private mode
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=60000")
    conn.executescript(SCHEMA)
    return conn


def signature(task_file: TaskFile) -> str:
    """Changes when the task file, a side file beside it, the index format, or the set of data files
    the dataset's statements depend on (`DataSpec.indexed_with`) changes."""
    parts = [f"v{INDEX_VERSION}"]
    for path in sorted(task_file.path.parent.glob("*.json*")):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    adapter = ADAPTERS.get(task_file.dataset)
    if adapter is not None and adapter.data.indexed_with:
        present = sorted({p.relative_to(task_file.path.parent).as_posix() for pattern in adapter.data.indexed_with
                          for p in task_file.path.parent.glob(pattern)})
        parts.append("data:" + hashlib.sha256("\n".join(present).encode()).hexdigest()[:16])
    return "|".join(parts)


Tick = Callable[[int], None]  # told how many records were indexed (or found already indexed) since the last tick


def sync_root(conn: sqlite3.Connection, root: str, directory: Path, tick: Tick | None = None) -> SyncReport:
    """Bring the index of `root` (a data directory) up to date with the files on disk."""
    report = SyncReport()
    files = discover(directory)
    tick = tick or (lambda _: None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        known = {row[0]: row for row in conn.execute(
            "SELECT path, signature, records, errors, dataset, split FROM sources WHERE root=?", (root,))}
        for stale in set(known) - {str(f.path) for f in files}:
            _forget(conn, root, stale)
        for task_file in files:
            _sync_file(conn, root, task_file, known.get(str(task_file.path)), report, tick)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return report


def forget_root(conn: sqlite3.Connection, root: str) -> None:
    """Drop every row of a root that is no longer configured."""
    conn.execute("BEGIN IMMEDIATE")
    for (path,) in conn.execute("SELECT path FROM sources WHERE root=?", (root,)).fetchall():
        _forget(conn, root, path)
    conn.execute("COMMIT")


def _sync_file(
    conn: sqlite3.Connection, root: str, task_file: TaskFile, known: tuple[str, ...] | None,
    report: SyncReport, tick: Tick,
) -> None:
    sig = signature(task_file)
    key = (task_file.dataset, task_file.split)
    if known is not None and known[1] == sig:
        report.counts[key] = report.counts.get(key, 0) + int(known[2])
        tick(int(known[2]) + len(json.loads(known[3])))
        report.errors.extend(LoadError(**e) for e in json.loads(known[3]))
        return
    if known is not None:
        _forget(conn, root, str(task_file.path))
    errors: list[LoadError] = []
    count = _insert(conn, root, str(task_file.path), read_file(task_file, errors), tick)
    tick(len(errors))
    report.files_read += 1
    report.counts[key] = report.counts.get(key, 0) + count
    report.errors.extend(errors)
    conn.execute(
        "INSERT INTO sources VALUES (?,?,?,?,?,?,?)",
        (root, str(task_file.path), task_file.dataset, task_file.split, sig, count,
         json.dumps([e.__dict__ for e in errors])),
    )


def _insert(conn: sqlite3.Connection, root: str, source: str, items: Iterable[tuple[int, IndexedTask]],
            tick: Tick) -> int:
    count = 0
    for line, item in items:
        if count and count % 1000 == 0:
            tick(1000)
        task = item.task
        task_id = task.task_id
        if conn.execute("SELECT 1 FROM tasks WHERE root=? AND task_id=?", (root, task_id)).fetchone():
            task_id = f"{task_id}~{line}"  # a repeated native id: keep both, the later one by line
            task = task.model_copy(update={"task_id": task_id})
        cur = conn.execute(
            "INSERT INTO tasks (root, task_id, dataset, split, category, title, source, line, scorable, "
            "task_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (root, task_id, task.dataset, task.split, task.category, task.title, source, line,
             int(task.scorable), task.model_dump_json()),
        )
        conn.execute("INSERT INTO hidden VALUES (?,?,?,?)",
                     (root, task_id, item.key.model_dump_json(), item.reference_solution))
        text = "\n".join(part for part in (task.title, task.question, task.context or "") if part)
        conn.execute("INSERT INTO task_text (rowid, text) VALUES (?, ?)", (cur.lastrowid, text))
        count += 1
    tick(count % 1000 if count % 1000 or not count else 1000)
    return count


def _forget(conn: sqlite3.Connection, root: str, path: str) -> None:
    conn.execute(
        "DELETE FROM task_text WHERE rowid IN (SELECT seq FROM tasks WHERE root=? AND source=?)", (root, path))
    conn.execute(
        "DELETE FROM hidden WHERE root=? AND task_id IN (SELECT task_id FROM tasks WHERE root=? AND source=?)",
        (root, root, path))
    conn.execute("DELETE FROM tasks WHERE root=? AND source=?", (root, path))
    conn.execute("DELETE FROM sources WHERE root=? AND path=?", (root, path))
