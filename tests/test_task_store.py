"""The task index over the public MedAgentGym files: every record, per dataset and split."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from task_store import data
from task_store.loader import discover
from task_store.store import BadCursorError, DataRoot, TaskFilter, TaskStore, UnknownTaskError


def _line_counts(shared: Path) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for task_file in discover(shared):
        lines = [line for line in task_file.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        counts[(task_file.dataset, task_file.split)] = counts.get((task_file.dataset, task_file.split), 0) + len(lines)
    return counts


@pytest.fixture
def store(tmp_path: Path, shared_dir: Path) -> TaskStore:
    return TaskStore.open(tmp_path / "medgym.sqlite", [DataRoot("medagentgym", shared_dir)])


def test_every_record_of_every_file_is_indexed(store: TaskStore, shared_dir: Path) -> None:
    expected = _line_counts(shared_dir)
    report = next(iter(store.reports.values()))
    print("\nindexed per dataset/split:")
    for (dataset, split), count in sorted(report.counts.items()):
        print(f"  {dataset:15} {split:6} {count:6} (lines: {expected[(dataset, split)]})")
    assert report.errors == []
    assert report.counts == expected
    assert len(expected) >= 11  # every published file (ehr_seqsql has none)
    counted = {}
    for row in store.counts():
        counted[(row.dataset, row.split)] = counted.get((row.dataset, row.split), 0) + row.count
    assert counted == expected


def test_reopening_reads_nothing_again_and_is_fast(tmp_path: Path, shared_dir: Path) -> None:
    root = DataRoot("medagentgym", shared_dir)
    TaskStore.open(tmp_path / "m.sqlite", [root]).close()
    started = time.perf_counter()
    again = TaskStore.open(tmp_path / "m.sqlite", [root])
    assert next(iter(again.reports.values())).files_read == 0
    assert time.perf_counter() - started < 2.0


def test_task_ids_are_stable_and_unique(store: TaskStore) -> None:
    page = store.query(TaskFilter(), limit=200)
    ids = [t.task_id for t in page.tasks]
    assert len(ids) == len(set(ids))
    assert store.get("medcalcbench/test/6").category == "Creatinine Clearance (Cockcroft-Gault Equation)"
    mimic = store.query(TaskFilter(dataset="mimic_iii"), limit=1).tasks[0]
    assert mimic.task_id == "mimic_iii/train/75379177b6a56fb54e946591"


def test_filters_search_and_paging(store: TaskStore) -> None:
    calc = store.query(TaskFilter(dataset="medcalcbench"), limit=50)
    assert calc.total == 220 and len(calc.tasks) == 50 and calc.next_cursor
    seen = {t.task_id for t in calc.tasks}
    cursor = calc.next_cursor
    while cursor:
        page = store.query(TaskFilter(dataset="medcalcbench"), limit=50, cursor=cursor)
        assert not seen & {t.task_id for t in page.tasks}
        seen |= {t.task_id for t in page.tasks}
        cursor = page.next_cursor
    assert len(seen) == 220
    # search matches the context (the patient note), not only the question
    hits = store.query(TaskFilter(dataset="medcalcbench", search="Japanese sake"), limit=10)
    assert "medcalcbench/test/6" in {t.task_id for t in hits.tasks}
    by_category = store.query(TaskFilter(dataset="npowerai", category="Paired t-test"), limit=5)
    assert by_category.total == 140 and all(t.category == "Paired t-test" for t in by_category.tasks)
    with pytest.raises(BadCursorError):
        store.query(TaskFilter(dataset="npowerai"), limit=5, cursor=calc.next_cursor)
    with pytest.raises(UnknownTaskError):
        store.get("medcalcbench/test/nope")


def test_categories(store: TaskStore) -> None:
    categories = {(row.dataset, row.category) for row in store.counts()}
    assert ("npowerai", "One-sample t-test") in categories
    assert ("mimic_iii", "what is the intake method of <drug>?") in categories
    assert any(d == "treqs" and c.startswith("count:") for d, c in categories)
    assert ("medagentbench", "task1") in categories


def test_malformed_records_are_reported_and_skipped(tmp_path: Path, shared_dir: Path) -> None:
    root = tmp_path / "data"
    (root / "npowerai").mkdir(parents=True)
    good = (shared_dir / "npowerai" / "train_tasks.jsonl").read_text().splitlines()[:3]
    bad = ['{"task_type": "One-sample t-test", "question": "no answer"}', "not json at all", "[1, 2]"]
    (root / "npowerai" / "train_tasks.jsonl").write_text("\n".join([good[0], *bad, *good[1:]]) + "\n")
    store = TaskStore.open(tmp_path / "m.sqlite", [DataRoot("medagentgym", root)])
    report = next(iter(store.reports.values()))
    assert report.counts == {("npowerai", "train"): 3}
    assert [e.line for e in report.errors] == [2, 3, 4]
    assert all(e.path.endswith("npowerai/train_tasks.jsonl") for e in report.errors)
    assert "answer" in report.errors[0].message


def test_changed_file_is_reindexed(tmp_path: Path, shared_dir: Path) -> None:
    root = tmp_path / "data"
    (root / "npowerai").mkdir(parents=True)
    path = root / "npowerai" / "train_tasks.jsonl"
    lines = (shared_dir / "npowerai" / "train_tasks.jsonl").read_text().splitlines()
    path.write_text("\n".join(lines[:5]) + "\n")
    TaskStore.open(tmp_path / "m.sqlite", [DataRoot("medagentgym", root)]).close()
    path.write_text("\n".join(lines[:7]) + "\n")
    store = TaskStore.open(tmp_path / "m.sqlite", [DataRoot("medagentgym", root)])
    assert store.query(TaskFilter(dataset="npowerai"), limit=1).total == 7


def test_mounts_never_include_task_files(tmp_path: Path, shared_dir: Path) -> None:
    folder = tmp_path / "mimic_iii"
    folder.mkdir()
    (folder / "train_tasks.jsonl").write_text((shared_dir / "mimic_iii" / "train_tasks.jsonl").read_text())
    (folder / "valid_tasks.jsonl").write_text("{}\n")
    (folder / "PATIENTS.csv").write_text("subject_id\n1\n")
    (folder / "extra").mkdir()
    (folder / "extra" / "notes.csv").write_text("x\n")
    (folder / "leaky").mkdir()
    (folder / "leaky" / "test_tasks.jsonl").write_text("{}\n")
    (folder / "test-temp.csv").write_text("id,sol\n1,42\n")  # an answer file next to the tables
    targets = sorted(m.target for m in data.mounts(folder, "mimic_iii"))
    # only what the dataset's allowlist names (its CSV tables); nothing else, not even a clean folder
    assert targets == ["/data/mimic_iii/PATIENTS.csv"]
    assert data.data_available(folder, "mimic_iii")


def test_mounts_are_an_allowlist(tmp_path: Path) -> None:
    bench = tmp_path / "medagentbench"
    bench.mkdir()
    for name in ("test-temp.csv", "test-temp.jsonl", "funcs_v1.json", "notes.txt"):
        (bench / name).write_text("sol,eval_MRN\n['S1'],S1\n")
    assert data.mounts(bench, "medagentbench") == []  # MedAgentBench reads FHIR, never files
    calc = tmp_path / "medcalcbench"
    calc.mkdir()
    (calc / "calculation_method.jsonl").write_text("{}\n")
    assert data.mounts(calc, "medcalcbench") == []


def test_public_task_json_has_no_answer_fields(store: TaskStore) -> None:
    forbidden = {"answer", "Ground Truth Answer", "Lower Limit", "Upper Limit", "query", "sol", "solution",
                 "Has error", "Number of inconsistencies", "test_cases", "reference_answer", "key"}
    for dataset in store.datasets():
        for summary in store.query(TaskFilter(dataset=dataset), limit=30).tasks:
            payload = json.loads(store.get(summary.task_id).model_dump_json())
            assert not forbidden & set(payload), summary.task_id
