"""Acceptance: every public MedCalcBench / N-PowerAI / EHR QA record, scored through the real path
(task file -> dataset adapter -> answer key in the index -> verifier).

The ground truth scores correct; the upstream graders' tricks score incorrect. A trick that
*is* the right answer (ground truth 1 and the trick "1") is a legitimate coincidence, counted
and printed, not a defect.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from medgym.errors import AnswerFormatError
from scoring.keys import DateKey, GestationalAgeKey, IntegerKey, ItemSetKey, RangeKey, RelativeKey
from scoring.score import AnswerValue
from scoring.verify import verify
from task_store.store import DataRoot, TaskFilter, TaskStore

TRICKS = ("1", "0", "0123456789", "x1.5")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> TaskStore:
    return TaskStore.open(tmp_path_factory.mktemp("idx") / "m.sqlite", [DataRoot("medagentgym", shared_dir)])


def _ids(store: TaskStore, dataset: str) -> list[str]:
    page = store.query(TaskFilter(dataset=dataset), limit=200)
    ids = [t.task_id for t in page.tasks]
    while page.next_cursor:
        page = store.query(TaskFilter(dataset=dataset), limit=200, cursor=page.next_cursor)
        ids += [t.task_id for t in page.tasks]
    return ids


def _records(shared: Path, dataset: str, name: str) -> list[dict[str, object]]:
    lines = (shared / dataset / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _correct(key: object, answer: AnswerValue) -> bool:
    try:
        return verify(key, answer).correct  # type: ignore[arg-type]
    except AnswerFormatError:
        return False


def _times_one_and_half(value: AnswerValue) -> AnswerValue:
    if isinstance(value, list):
        return [_times_one_and_half(v) for v in value]  # type: ignore[misc]
    try:
        return float(str(value)) * 1.5
    except ValueError:
        return f"{value}{value}"


def _trick(name: str, truth: AnswerValue) -> AnswerValue:
    return _times_one_and_half(truth) if name == "x1.5" else name


def _check_tricks(key: object, truth: AnswerValue, legit: Counter[str], label: str) -> None:
    for name in TRICKS:
        trick = _trick(name, truth)
        if _correct(key, trick):
            # only acceptable when the trick really is the right answer
            assert _correct(key, _normalised_truth(key)), label
            assert _is_genuine(key, trick), f"{label}: trick {name!r} accepted"
            legit[name] += 1


def _normalised_truth(key: object) -> AnswerValue:
    if isinstance(key, RangeKey):
        return (key.lower + key.upper) / 2
    if isinstance(key, IntegerKey | RelativeKey):
        return key.value
    if isinstance(key, ItemSetKey):
        return list(key.items)
    if isinstance(key, DateKey):
        return key.date
    if isinstance(key, GestationalAgeKey):
        return [key.weeks, key.days]
    raise AssertionError(key)


def _is_genuine(key: object, trick: AnswerValue) -> bool:
    """The trick's value equals the truth by the key's own definition (not by a grader loophole)."""
    if isinstance(key, RangeKey):
        value = float(str(trick))
        return min(key.lower, key.upper) <= value <= max(key.lower, key.upper)
    if isinstance(key, IntegerKey):
        return float(str(trick)) == key.value
    if isinstance(key, RelativeKey):
        return abs(float(str(trick)) - key.value) <= 0.01 * abs(key.value)
    if isinstance(key, ItemSetKey):
        items = trick if isinstance(trick, list) else [trick]
        return {_num(i) for i in items} == {_num(i) for i in key.items}
    return False


def _num(item: object) -> object:
    try:
        return float(str(item))
    except ValueError:
        return str(item).strip().lower()


def test_medcalcbench_every_record(store: TaskStore, shared_dir: Path) -> None:
    records = {str(r["Row Number"]): r for r in _records(shared_dir, "medcalcbench", "test_tasks.jsonl")}
    legit: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    ids = _ids(store, "medcalcbench")
    assert len(ids) == len(records) == 220
    for task_id in ids:
        record = records[task_id.rsplit("/", 1)[1]]
        key = store.answer_key(task_id)
        kinds[key.kind] += 1
        truth = str(record["Ground Truth Answer"])
        assert _correct(key, truth), task_id
        if isinstance(key, RangeKey):
            assert _correct(key, float(truth)), task_id
            _check_tricks(key, truth, legit, task_id)
        else:
            for name in TRICKS:
                assert not _correct(key, _trick(name, truth)), (task_id, name)
    print(f"\nmedcalcbench: {sum(kinds.values())} tasks {dict(kinds)}; genuine coincidences {dict(legit)}")
    assert kinds["date"] == 12 and kinds["gestational_age"] == 5


def test_npowerai_every_record(store: TaskStore, shared_dir: Path) -> None:
    records = _records(shared_dir, "npowerai", "train_tasks.jsonl")
    ids = _ids(store, "npowerai")
    assert len(ids) == len(records) == 865
    legit: Counter[str] = Counter()
    for task_id in ids:
        record = records[int(task_id.rsplit("/", 1)[1]) - 1]
        key = store.answer_key(task_id)
        truth = record["answer"]
        assert _correct(key, truth) and _correct(key, str(truth)), task_id  # type: ignore[arg-type]
        _check_tricks(key, truth, legit, task_id)  # type: ignore[arg-type]
    print(f"\nnpowerai: {len(ids)} tasks; genuine coincidences {dict(legit)}")


@pytest.mark.parametrize("dataset", ["mimic_iii", "eicu", "treqs"])
def test_ehr_qa_train_files(store: TaskStore, shared_dir: Path, dataset: str) -> None:
    records = {str(r["id"]): r for r in _records(shared_dir, dataset, "train_tasks.jsonl")}
    ids = _ids(store, dataset)
    assert len(ids) == len(records)
    multi = first_only_rejected = superstring_rejected = 0
    for task_id in ids:
        record = records[task_id.rsplit("/", 1)[1]]
        key = store.answer_key(task_id)
        answer = record["answer"]
        assert isinstance(answer, list)
        assert _correct(key, answer), task_id
        if len({_num(a) for a in answer}) > 1:
            multi += 1
            assert not _correct(key, [answer[0]]), task_id
            first_only_rejected += 1
        if len(answer) == 1 and answer[0] not in ("None", ""):
            item = str(answer[0])
            superstring = f"1{item}" if "." in item else f"{item}0"  # "10" for "1", "po0" for "po"
            assert not _correct(key, [superstring]), task_id
            superstring_rejected += 1
    print(f"\n{dataset}: {len(ids)} correct; {first_only_rejected}/{multi} first-item-only rejected; "
          f"{superstring_rejected} superstrings rejected")
    assert multi > 0 and superstring_rejected > 0
