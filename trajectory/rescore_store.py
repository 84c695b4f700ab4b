"""`medgym rescore`: read the submissions of a store or a run directory, re-verify them, and keep the
new verdicts beside the old ones (never over them), with a report of what changed per dataset.

- a store (`medgym.sqlite`): a table `rescores` (created in place when missing, like the store's
  own migrations), one row per re-verified episode per rescore run; episodes and events are
  never touched;
- a run directory: `rescores.jsonl`, appended; `results.jsonl` and the transcripts are never touched.
Each row names the rescore run (`run_id`), the labels, and the verifier name and version of both
the old and the new verdict.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from medgym.private import private_file
from trajectory.rescore import KeyLookup, Rescore, Submission, rescore, store_submission, transcript_submission
from trajectory.rundir import RunDir
from trajectory.store import RecordStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS rescores (
    run_id TEXT NOT NULL, episode_id TEXT NOT NULL, rescored_at REAL NOT NULL, labels TEXT NOT NULL,
    status TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, episode_id));
CREATE INDEX IF NOT EXISTS rescores_episode ON rescores (episode_id);
"""
RUN_FILE = "rescores.jsonl"


class DatasetChange(BaseModel):
    """What a rescore changed in one dataset."""

    dataset: str
    episodes: int
    rescored: int
    unchanged: int
    to_correct: int
    to_incorrect: int
    left: dict[str, int]
    old_correct: int
    new_correct: int


def rescore_source(source: Path, key_of: KeyLookup, labels: str, dataset: str | None = None,
                   write: bool = True) -> tuple[str, list[Rescore]]:
    """Re-verify every episode of a store file or a run directory; returns (rescore run id, results)."""
    run_id = "rescore_" + uuid.uuid4().hex[:12]
    if source.is_file():
        results = list(rescore(store_submissions(source, dataset), key_of, labels))
        if write:
            save_store(source, run_id, results)
    else:
        results = list(rescore(run_submissions(RunDir(source), dataset), key_of, labels))
        if write:
            save_run(RunDir(source), run_id, results)
    return run_id, results


def store_submissions(path: Path, dataset: str | None = None) -> Iterator[Submission]:
    store = RecordStore(path)
    try:
        for episode in list(store.episodes(dataset=dataset)):
            trajectory = store.trajectory(episode.episode_id)
            if trajectory is not None:
                yield store_submission(trajectory, f"store:{path.name}")
    finally:
        store.close()


def run_submissions(run: RunDir, dataset: str | None = None) -> Iterator[Submission]:
    if not run.results_path.is_file():
        raise FileNotFoundError(f"{run.path}: not a run directory (no results.jsonl) nor a store file")
    for row in run.rows():
        if dataset and row.dataset != dataset:
            continue
        base = {"episode_id": row.episode_id, "task_id": row.task_id, "dataset": row.dataset,
                "source": f"run:{run.path.name}", "where": f"sample {row.sample}"}
        found = transcript_submission(run.transcript(row))
        if found is None:
            yield Submission(**base, status="error_episode" if row.error else "no_final_verdict")
            continue
        answer, verdict = found
        yield Submission(**base, answer=answer, correct=bool(verdict["correct"]), score=verdict.get("score"))


def save_store(path: Path, run_id: str, results: Iterable[Rescore]) -> None:
    """Add the results to the store's `rescores` table (created if missing) in one transaction."""
    private_file(path)
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    try:
        conn.executescript(SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO rescores VALUES (?,?,?,?,?,?)", [
            (run_id, r.episode_id, r.rescored_at, r.labels, r.status, r.model_dump_json()) for r in results])
        conn.execute("COMMIT")
    finally:
        conn.close()


def stored_rescores(path: Path) -> list[tuple[str, Rescore]]:
    """Every rescore kept in a store, oldest first: (rescore run id, result)."""
    conn = sqlite3.connect(path, timeout=60.0)
    try:
        conn.executescript(SCHEMA)
        rows = conn.execute("SELECT run_id, body FROM rescores ORDER BY rescored_at, rowid").fetchall()
    finally:
        conn.close()
    return [(str(run_id), Rescore.model_validate_json(body)) for run_id, body in rows]


def save_run(run: RunDir, run_id: str, results: Iterable[Rescore]) -> None:
    with (run.path / RUN_FILE).open("a", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps({"run_id": run_id, **result.model_dump(mode="json")}) + "\n")


def changes(results: Iterable[Rescore]) -> list[DatasetChange]:
    """Per dataset: episodes, how many were re-scored, flipped each way, left as they were (by why)."""
    by_dataset: dict[str, list[Rescore]] = defaultdict(list)
    for result in results:
        by_dataset[result.dataset].append(result)
    return [_change(name, rows) for name, rows in sorted(by_dataset.items())]


def _change(dataset: str, rows: list[Rescore]) -> DatasetChange:
    done = [r for r in rows if r.status == "rescored"]
    return DatasetChange(
        dataset=dataset, episodes=len(rows), rescored=len(done), unchanged=sum(not r.changed for r in done),
        to_correct=sum(r.changed and bool(r.new_correct) for r in done),
        to_incorrect=sum(r.changed and not r.new_correct for r in done),
        left=dict(Counter(r.status for r in rows if r.status != "rescored")),
        old_correct=sum(bool(r.old_correct) for r in done), new_correct=sum(bool(r.new_correct) for r in done))


def table(rows: list[DatasetChange]) -> str:
    """The changes as a markdown table."""
    lines = ["| dataset | episodes | re-scored | unchanged | now correct | now incorrect | correct before -> after "
             "| left as they were |", "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        left = ", ".join(f"{k} {v}" for k, v in sorted(r.left.items())) or "-"
        lines.append(f"| {r.dataset} | {r.episodes} | {r.rescored} | {r.unchanged} | {r.to_correct} | "
                     f"{r.to_incorrect} | {r.old_correct} -> {r.new_correct} | {left} |")
    return "\n".join(lines)
