"""`TaskStore`: the read side of the task index, over the configured data roots."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from medgym.errors import BadCursorError, InvalidArgumentError, UnknownTaskError
from scoring.keys import AnswerKey
from task_store import quarantine
from task_store.audit_index import AuditIndex
from task_store.data import Availability, availability
from task_store.index import SyncReport, connect, sync_root
from task_store.loader import discover
from task_store.models import Task
from task_store.task_data import category_missing, has_task_data

_KEY = TypeAdapter(AnswerKey)
Progress = Callable[[int, int], None]  # (records indexed so far, records in all)


def record_count(path: Path) -> int:
    """The records of a JSON Lines task file: its non-empty lines (counted fast, in binary)."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            count += bool(line.strip())
    return count


class TaskSummary(BaseModel):
    task_id: str
    dataset: str
    split: str
    category: str
    title: str
    scorable: bool = Field(True, description="a verifier and ground truth exist for it")
    solvable: bool = Field(True, description="its data and services are present on this server")


class TaskPage(BaseModel):
    total: int
    tasks: list[TaskSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class TaskFilter:
    dataset: str | None = None
    split: str | None = None
    category: str | None = None
    search: str | None = None
    solvable: bool | None = None


@dataclass(frozen=True)
class CountRow:
    dataset: str
    split: str
    category: str
    count: int
    scorable: int


@dataclass(frozen=True)
class DataRoot:
    """A directory laid out as `<dataset>/<split file>` plus the datasets' data."""

    label: str  # "medagentgym" for the user's --data-dir, "pack" for the built-in pack
    path: Path

    @property
    def root_id(self) -> str:
        return f"{self.label}:{self.path.resolve()}"


class TaskStore:
    """Tasks of every configured root, from the SQLite index (synced on open)."""

    def __init__(self, conn: sqlite3.Connection, roots: list[DataRoot], reports: dict[str, SyncReport]):
        self._conn = conn
        self.roots = roots
        self.reports = reports
        self.audit = AuditIndex()  # the label audit (built by the server when it loads the catalog)
        self._root_ids = [r.root_id for r in roots]
        self._dataset_roots = self._map_datasets()

    @classmethod
    def open(cls, db_path: Path, roots: list[DataRoot], progress: Progress | None = None) -> TaskStore:
        """The store over `roots`, its index brought up to date; `progress(done, total)` is told how
        many records are indexed (or found already indexed) as it goes."""
        conn = connect(db_path)
        total = sum(record_count(f.path) for root in roots for f in discover(root.path))
        done = [0]

        def tick(records: int) -> None:
            done[0] += records
            if progress is not None:
                progress(done[0], max(total, done[0]))

        reports = {root.root_id: sync_root(conn, root.root_id, root.path, tick) for root in roots}
        quarantine.apply(conn, db_path.parent, [r.root_id for r in roots if r.label != "pack"])
        return cls(conn, roots, reports)

    def close(self) -> None:
        self._conn.close()

    def _map_datasets(self) -> dict[str, DataRoot]:
        by_id = {r.root_id: r for r in self.roots}
        mapping: dict[str, DataRoot] = {}
        for root_id, dataset in self._conn.execute(
            f"SELECT DISTINCT root, dataset FROM tasks WHERE root IN ({self._marks()})", self._root_ids
        ):
            mapping.setdefault(dataset, by_id[root_id])
        return mapping

    def _marks(self) -> str:
        return ",".join("?" * len(self._root_ids)) or "NULL"

    # -- reading ------------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        return sorted(self._dataset_roots)

    def root_of(self, dataset: str) -> DataRoot | None:
        return self._dataset_roots.get(dataset)

    def availability(self, dataset: str) -> Availability:
        """Whether the dataset's tasks can be solved here (its data and services are present)."""
        root = self.root_of(dataset)
        return availability(root.path / dataset if root is not None else None, dataset)

    def task_availability(self, dataset: str, category: str) -> Availability:
        """Whether the tasks of this dataset and category can be solved here: the dataset's availability,
        refined by data a task needs of its own (a BioDSBench task's study folder)."""
        available = self.availability(dataset)
        if not available.solvable or not has_task_data(dataset):
            return available
        root = self.root_of(dataset)
        return category_missing(root.path / dataset if root is not None else None, dataset, category) or available

    def solvable_datasets(self) -> list[str]:
        return [d for d in self.datasets() if self.availability(d).solvable]

    def unsolvable_categories(self, dataset: str) -> list[str]:
        """Categories of a solvable dataset whose tasks cannot be solved here (their own data is missing)."""
        if not has_task_data(dataset):
            return []
        rows = self._conn.execute(f"SELECT DISTINCT category FROM tasks WHERE root IN ({self._marks()}) "
                                  "AND dataset = ? ORDER BY category", [*self._root_ids, dataset])
        return [c for (c,) in rows if not self.task_availability(dataset, c).solvable]

    def get(self, task_id: str) -> Task:
        row = self._row("SELECT task_json FROM tasks", task_id)
        return Task.model_validate_json(row[0])

    def answer_key(self, task_id: str) -> AnswerKey:
        """The hidden key of a task under the chosen labels (official, or audited). Only scoring code may
        call this."""
        return self.audit.key(task_id, self.official_key(task_id))

    def official_key(self, task_id: str) -> AnswerKey:
        """The task's key as its dataset publishes it."""
        row = self._row("SELECT key_json FROM hidden", task_id)
        return _KEY.validate_json(row[0])

    def reference_solution(self, task_id: str) -> str | None:
        """The hidden reference solution (built-in pack). Only certification may call this."""
        reference: str | None = self._row("SELECT reference FROM hidden", task_id)[0]
        return reference

    def _row(self, select: str, task_id: str) -> tuple[Any, ...]:
        row = self._conn.execute(
            f"{select} WHERE root IN ({self._marks()}) AND task_id=? LIMIT 1", [*self._root_ids, task_id]
        ).fetchone()
        if row is None:
            quoted = repr(task_id) if len(task_id) <= 120 else repr(task_id[:117]) + "…"
            raise UnknownTaskError(
                f"unknown task_id {quoted}: task ids look like '<dataset>/<split>/<id>'; call list_tasks to find them"
            )
        return tuple(row)

    def query(self, flt: TaskFilter, limit: int = 20, cursor: str | None = None) -> TaskPage:
        where, params = self._where(flt)
        total = self._conn.execute(f"SELECT count(*) FROM tasks WHERE {where}", params).fetchone()[0]
        after = _decode_cursor(cursor, flt)
        rows = self._conn.execute(
            f"SELECT seq, task_id, dataset, split, category, title, scorable FROM tasks WHERE {where} AND seq > ? "
            "ORDER BY seq LIMIT ?", [*params, after, limit + 1],
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        tasks = [TaskSummary(task_id=r[1], dataset=r[2], split=r[3], category=r[4], title=r[5], scorable=bool(r[6]),
                             solvable=self.task_availability(r[2], r[4]).solvable) for r in rows]
        next_cursor = _encode_cursor(rows[-1][0], flt) if more and rows else None
        return TaskPage(total=total, tasks=tasks, next_cursor=next_cursor)

    def _where(self, flt: TaskFilter) -> tuple[str, list[object]]:
        clauses = [f"root IN ({self._marks()})"]
        params: list[object] = list(self._root_ids)
        for column in ("dataset", "split", "category"):
            if (value := getattr(flt, column)) is not None:
                clauses.append(f"{column} = ? COLLATE NOCASE" if column == "category" else f"{column} = ?")
                params.append(value)
        if flt.solvable is not None:
            clause, solvable_params = self._solvable_clause()
            clauses.append(clause if flt.solvable else f"NOT ({clause})")
            params.extend(solvable_params)
        if flt.search and "".join(ch for ch in flt.search if ch.isprintable()).strip():
            clause, search_params = _search_clause(flt.search)
            clauses.append(clause)
            params.extend(search_params)
        return " AND ".join(clauses), params

    def _solvable_clause(self) -> tuple[str, list[object]]:
        """SQL true for the tasks that can be solved here: a solvable dataset, and not a category lacking its data."""
        chosen = self.solvable_datasets()
        if not chosen:
            return "0", []
        clauses = [f"dataset IN ({','.join('?' * len(chosen))})"]
        params: list[object] = list(chosen)
        for dataset in chosen:
            if missing := self.unsolvable_categories(dataset):
                clauses.append(f"NOT (dataset = ? AND category IN ({','.join('?' * len(missing))}))")
                params.extend([dataset, *missing])
        return " AND ".join(clauses), params

    def categories(self, dataset: str | None = None) -> list[str]:
        """Every category (of one dataset, or of all)."""
        where, params = self._where(TaskFilter(dataset=dataset))
        rows = self._conn.execute(f"SELECT DISTINCT category FROM tasks WHERE {where}", params).fetchall()
        return sorted(row[0] for row in rows)

    def counts(self) -> list[CountRow]:
        """Task counts per (dataset, split, category) over every configured root."""
        rows = self._conn.execute(
            f"SELECT dataset, split, category, count(*), sum(scorable) FROM tasks "
            f"WHERE root IN ({self._marks()}) GROUP BY dataset, split, category "
            "ORDER BY dataset, split, category", self._root_ids)
        return [CountRow(*row) for row in rows]


MAX_SEARCH_WORDS = 12
MAX_SHORT_WORDS = 2  # words under three characters cannot use the trigram index: each is a full scan


def _search_clause(search: str) -> tuple[str, list[object]]:
    """Every word must occur (case-insensitive substring) in the title, question or context."""
    words = list(dict.fromkeys("".join(ch if ch.isprintable() else " " for ch in search).split()))
    long_words = [w for w in words if len(w) >= 3]
    short_words = [w for w in words if len(w) < 3]
    if len(words) > MAX_SEARCH_WORDS or len(short_words) > MAX_SHORT_WORDS:
        raise InvalidArgumentError(
            f"search takes at most {MAX_SEARCH_WORDS} words, of which at most {MAX_SHORT_WORDS} shorter than three "
            "characters; use fewer, longer words")
    clauses: list[str] = []
    params: list[object] = []
    if long_words:
        query = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words)
        clauses.append("seq IN (SELECT rowid FROM task_text WHERE task_text MATCH ?)")
        params.append(query)
    for word in short_words:  # the trigram index needs three characters
        clauses.append("seq IN (SELECT rowid FROM task_text WHERE text LIKE ? ESCAPE '\\')")
        params.append("%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return " AND ".join(clauses), params


def _filter_tag(flt: TaskFilter) -> str:
    return json.dumps([flt.dataset, flt.split, flt.category, flt.search, flt.solvable])


def _encode_cursor(seq: int, flt: TaskFilter) -> str:
    raw = json.dumps({"after": seq, "filter": _filter_tag(flt)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, flt: TaskFilter) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, tag = int(data["after"]), data["filter"]
        if not 0 <= after < 2**63:
            raise ValueError("position out of range")
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise BadCursorError("invalid cursor: pass the next_cursor of a previous list_tasks result") from exc
    if tag != _filter_tag(flt):
        raise BadCursorError("this cursor belongs to a listing with other filters; repeat those filters")
    return after

