"""The EHR part of the built-in open task pack (`medgym_ehr`): synthetic database and questions.

The reference solutions run with the real interpreter and pandas, each as `python -c` would run it
(`tests/solution_batch.py`: a few interpreters, pandas imported once in each). By default a
stratified sample (three tasks of every template) runs; MEDGYM_TEST_ALL_EHR_SOLUTIONS=1 runs every one.

Most checks read the default seed's EHR data as the session's built-in pack (`pack_home`) serves
it (so they are slow tests, see tests/conftest.py); a second seed is built only where it is the point.
"""

from __future__ import annotations

import collections
import json
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from medgym_cli.certify import CONSTANTS
from scoring.keys import ItemSetKey
from scoring.verify import verify
from task_store.models import IndexedTask
from task_store.pack.build import DEFAULT_SEED, pack_dir
from task_store.pack.ehr_db import SCHEMA, SQLITE_NAME, build_ehr_database
from task_store.pack.ehr_questions import ANSWER_FORMAT, TASKS_PER_TEMPLATE, TEMPLATES, _guessable, build_ehr_tasks
from tests.solution_batch import Outcome, run_solutions

SEED = 7
SMALL = 500  # patients of the second seed's database: enough for every template's tasks, built in seconds
#: what certification submits (`CONSTANTS["list"]`), and other spellings of the same guesses
GUESSES = (*CONSTANTS["list"], ["0.0"], ["1.0"], ["-0.0"], [0], [1], [0.0], [1.0], ["None"], [None], [True])
#: "which of ..." templates: the number of choices in each question
WHICH_OF = {"dx_which_of": 4, "rx_which_of": 3}


@dataclass(frozen=True)
class Build:
    root: Path
    tasks: list[IndexedTask]


def _build(root: Path, seed: int, n_patients: int = 2000) -> Build:
    build_ehr_database(seed, root, n_patients=n_patients)
    return Build(root, build_ehr_tasks(seed, root / SQLITE_NAME))


@pytest.fixture(scope="module")
def pack(pack_home: Path) -> Build:
    """The default seed's EHR dataset as the session's built-in pack serves it."""
    root = pack_dir(pack_home, DEFAULT_SEED) / "medgym_ehr"
    lines = [line for path in sorted(root.glob("*_tasks.jsonl")) for line in path.read_text().splitlines()]
    return Build(root, [IndexedTask.model_validate_json(line) for line in lines if line.strip()])


@pytest.fixture(scope="module")
def seed7(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build(tmp_path_factory.mktemp("ehr_a"), SEED, n_patients=SMALL)


@pytest.fixture(scope="module")
def db(pack: Build) -> sqlite3.Connection:
    return sqlite3.connect(pack.root / SQLITE_NAME)


def _template(task: IndexedTask) -> str:
    return task.task.task_id.split("/")[2].rsplit("-", 1)[0]


def _items(task: IndexedTask) -> list[str]:
    assert isinstance(task.key, ItemSetKey)
    return task.key.items


@pytest.mark.slow
def test_same_seed_gives_identical_files_and_tasks(seed7: Build, tmp_path: Path) -> None:
    again = _build(tmp_path, SEED, n_patients=SMALL)
    for name in [f"{table.upper()}.csv" for table in SCHEMA] + [SQLITE_NAME]:
        assert (seed7.root / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert [t.model_dump() for t in seed7.tasks] == [t.model_dump() for t in again.tasks]


def test_other_seed_gives_other_data_and_tasks(pack: Build, tmp_path: Path) -> None:
    other = _build(tmp_path, SEED + 1, n_patients=400)
    assert (pack.root / "PATIENTS.csv").read_bytes() != (tmp_path / "PATIENTS.csv").read_bytes()
    assert not {t.task.task_id for t in pack.tasks} & {t.task.task_id for t in other.tasks}


def test_every_table_is_written_with_its_columns(pack: Build, db: sqlite3.Connection) -> None:
    total = 0
    for table, columns in SCHEMA.items():
        path = pack.root / f"{table.upper()}.csv"
        total += path.stat().st_size
        assert path.read_text().splitlines()[0] == ",".join(columns)
        rows = db.execute(f"select count(*) from {table}").fetchone()[0]
        assert rows == len(path.read_text().splitlines()) - 1 > 0
    total += (pack.root / SQLITE_NAME).stat().st_size
    assert total < 60_000_000


@pytest.mark.parametrize(
    "query",
    [
        # every admission, stay and event belongs to a known patient and admission of that patient
        "select count(*) from admissions where subject_id not in (select subject_id from patients)",
        *(f"select count(*) from {t} e left join admissions a on a.hadm_id = e.hadm_id "
          f"where a.subject_id is null or a.subject_id != e.subject_id"
          for t, cols in SCHEMA.items() if "hadm_id" in cols and t != "admissions"),
        # icu stays lie inside their admission; icu events inside their stay
        "select count(*) from icustays i join admissions a using(hadm_id) where i.intime < a.admittime "
        "or (a.dischtime is not null and (i.outtime is null or i.outtime > a.dischtime))",
        *(f"select count(*) from {t} e join icustays i using(icustay_id) where e.hadm_id != i.hadm_id "
          f"or e.charttime < i.intime or e.charttime > coalesce(i.outtime, '2105-12-31 23:59:00')"
          for t in ("chartevents", "inputevents_cv", "outputevents")),
        *(f"select count(*) from {t} e join admissions a using(hadm_id) where e.{c} < a.admittime "
          f"or e.{c} > coalesce(a.dischtime, '2105-12-31 23:59:00')"
          for t, c in (("diagnoses_icd", "charttime"), ("procedures_icd", "charttime"),
                       ("labevents", "charttime"), ("prescriptions", "startdate"),
                       ("microbiologyevents", "charttime"), ("transfers", "intime"), ("cost", "chargetime"))),
        # shifted years, and nobody dies before an admission
        "select count(*) from admissions where admittime < '2100' or admittime > '2105-12-31 23:59:00'",
        "select count(*) from patients p join admissions a using(subject_id) where p.dod < date(a.admittime)",
        # cost rows point at the event they price
        *(f"select count(*) from cost c left join {t} e on e.row_id = c.event_id "
          f"where c.event_type = '{t}' and (e.row_id is null or e.hadm_id != c.hadm_id)"
          for t in ("diagnoses_icd", "procedures_icd", "labevents", "prescriptions")),
    ],
)
def test_keys_and_times_are_consistent(db: sqlite3.Connection, query: str) -> None:
    assert db.execute(query).fetchone()[0] == 0


def test_database_has_current_patients_and_icu_stays(db: sqlite3.Connection) -> None:
    assert db.execute("select count(*) from admissions where dischtime is null").fetchone()[0] >= 40
    assert db.execute("select count(*) from icustays where outtime is null").fetchone()[0] >= 10
    years = {row[0] for row in db.execute("select distinct substr(admittime, 1, 4) from admissions")}
    assert years == {"2100", "2101", "2102", "2103", "2104", "2105"}


def test_templates_categories_and_counts(pack: Build) -> None:
    assert len(TEMPLATES) >= 25
    assert len({t.tid for t in TEMPLATES}) == len(TEMPLATES)
    assert len({t.category for t in TEMPLATES}) >= 9
    per_template = collections.Counter(_template(t) for t in pack.tasks)
    assert {t.tid: per_template[t.tid] for t in TEMPLATES} == {t.tid: TASKS_PER_TEMPLATE for t in TEMPLATES}
    assert len(pack.tasks) >= 380
    assert sum(len(_items(t)) > 1 for t in pack.tasks) >= 20


def test_tasks_are_well_formed(pack: Build) -> None:
    ids = [t.task.task_id for t in pack.tasks]
    assert len(set(ids)) == len(ids)
    splits = collections.Counter(t.task.split for t in pack.tasks)
    assert set(splits) == {"train", "test"} and 0.6 < splits["train"] / len(ids) < 0.8
    assert "yes/no" not in ANSWER_FORMAT.how_to_submit
    for t in pack.tasks:
        assert t.task.task_id == f"medgym_ehr/{t.task.split}/{_template(t)}-{t.task.task_id[-10:]}"
        assert t.task.dataset == "medgym_ehr" and t.task.context is None
        assert t.task.question == t.task.question.lower().strip() and "{" not in t.task.question
        assert "/data/medgym_ehr/" in t.task.instructions and "2105-12-31 23:59:00" in t.task.instructions
        assert _items(t)
        assert t.reference_solution is not None
        compile(t.reference_solution, t.task.task_id, "exec")
        assert "sqlite" not in t.reference_solution and "MEDGYM_PACK_DATA" in t.reference_solution


@pytest.mark.parametrize(
    "items, guessable",
    [
        ([], True), (["None"], True), (["None", "None"], True), (["0"], True), (["0.0"], True),
        (["-0.0"], True), (["1"], True), (["1.0"], True), (["0.0000001"], True),
        (["2"], False), (["0", "1"], False), (["0", "None"], False), (["-1"], False), (["0.5"], False),
        (["yeast"], False), (["2105-01-01 00:00:00"], False), (["0389"], False),
    ],
)
def test_guessable_answers_are_recognised(items: list[str], guessable: bool) -> None:
    assert _guessable(items) is guessable


@pytest.mark.slow
@pytest.mark.parametrize("which", ["seed 7", "default seed"])
def test_no_answer_is_a_constant_guess(which: str, request: pytest.FixtureRequest) -> None:
    build: Build = request.getfixturevalue("seed7" if which == "seed 7" else "pack")
    assert len(build.tasks) == len(TEMPLATES) * TASKS_PER_TEMPLATE
    guessed = [(t.task.task_id, _items(t), guess) for t in build.tasks for guess in GUESSES
               if verify(t.key, guess).correct]
    assert guessed == []


def test_which_of_answers_are_a_proper_subset_of_the_choices(pack: Build) -> None:
    for t in pack.tasks:
        if _template(t) in WHICH_OF:
            items = _items(t)
            assert 1 <= len(set(items)) < WHICH_OF[_template(t)], t.task.task_id
            assert all(item in t.task.question for item in items), t.task.task_id


def _norm(x: object) -> tuple[str, float | str]:
    try:
        return ("n", float(str(x)))
    except ValueError:
        return ("s", str(x).strip().casefold())


def _same(got: list[object], want: list[str]) -> bool:
    a, b = {_norm(x) for x in got}, {_norm(x) for x in want}

    def close(x: tuple[str, float | str], y: tuple[str, float | str]) -> bool:
        if x[0] != y[0]:
            return False
        if isinstance(x[1], float) and isinstance(y[1], float):
            return math.isclose(x[1], y[1], rel_tol=1e-9, abs_tol=1e-9)
        return x[1] == y[1]

    return all(any(close(x, y) for y in b) for x in a) and all(any(close(y, x) for x in a) for y in b)


def _problem(task: IndexedTask, outcome: Outcome) -> str | None:
    """None when the solution printed the key's items; otherwise what went wrong."""
    if outcome.error is not None or outcome.last_line is None:
        return f"{task.task.task_id}: {outcome.error or 'printed nothing'}"
    got = json.loads(outcome.last_line)
    return None if _same(got, _items(task)) else f"{task.task.task_id}: printed {got}, key {_items(task)}"


def _sample(tasks: list[IndexedTask], per_template: int) -> list[IndexedTask]:
    seen: collections.Counter[str] = collections.Counter()
    chosen = []
    for task in tasks:
        seen[_template(task)] += 1
        if seen[_template(task)] <= per_template:
            chosen.append(task)
    return chosen


def test_reference_solutions_reproduce_the_sql_ground_truth(pack: Build, tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="the reference solutions need pandas")
    chosen = pack.tasks if os.environ.get("MEDGYM_TEST_ALL_EHR_SOLUTIONS") == "1" else _sample(pack.tasks, 3)
    outcomes = run_solutions([t.reference_solution or "" for t in chosen], cwd=tmp_path,
                             env={**os.environ, "MEDGYM_PACK_DATA": str(pack.root)})
    problems = [_problem(task, outcome) for task, outcome in zip(chosen, outcomes, strict=True)]
    assert [p for p in problems if p] == []


def test_answer_comparison_is_strict() -> None:
    assert _same([1, "2105-01-01 00:00:00", "Po"], ["1.0", "2105-01-01 00:00:00", "po"])
    assert not _same(["1"], ["10"]) and not _same(["po"], ["po", "iv"])
