"""The built-in calculator and power packs: determinism, coverage, and keys checked by running
every reference solution locally."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime

import pytest

from scoring.keys import AnswerKey, DateKey, GestationalAgeKey, IntegerKey, RangeKey, RelativeKey
from task_store.models import IndexedTask
from task_store.pack.calc_tasks import build_calc_tasks
from task_store.pack.power_math import PowerTest, Target, solve
from task_store.pack.power_tasks import DESIGNS, INSTANCES_PER_DESIGN, build_power_tasks, usable_answer
from tests.solution_batch import run_solutions

SEED = 20250611
STDLIB_ONLY = ("-I", "-S")  # no site-packages: a calculator solution cannot lean on medcalc (or anything else)


@pytest.fixture(scope="module")
def calc_tasks() -> list[IndexedTask]:
    return build_calc_tasks(SEED)


@pytest.fixture(scope="module")
def power_tasks() -> list[IndexedTask]:
    return build_power_tasks(SEED)


def accepts(key: AnswerKey, answer: object) -> bool:
    """A small local checker of one printed JSON answer against a key (not the product verifier)."""
    number = isinstance(answer, int | float) and not isinstance(answer, bool)
    if isinstance(key, RangeKey):
        return number and key.lower <= float(answer) <= key.upper  # type: ignore[arg-type]
    if isinstance(key, IntegerKey):
        return number and float(answer) == key.value  # type: ignore[arg-type]
    if isinstance(key, RelativeKey):
        return number and abs(float(answer) - key.value) <= key.rel_tol * abs(key.value)  # type: ignore[arg-type]
    if isinstance(key, DateKey):
        if not isinstance(answer, str) or not re.fullmatch(r"\d{2}/\d{2}/\d{4}", answer):
            return False
        return datetime.strptime(answer, "%m/%d/%Y").date().isoformat() == key.date
    if isinstance(key, GestationalAgeKey):
        return answer == [key.weeks, key.days]
    raise AssertionError(f"unexpected key {key!r}")


def run_all(tasks: list[IndexedTask], flags: tuple[str, ...]) -> list[tuple[IndexedTask, object]]:
    """Each task's reference solution run as `python FLAGS -c SOLUTION` would, its last line's JSON."""
    outcomes = run_solutions([t.reference_solution or "" for t in tasks], flags=flags)
    for task, outcome in zip(tasks, outcomes, strict=True):
        assert outcome.error is None, f"{task.task.task_id}: {outcome.error}"
    return [(t, outcome.answer()) for t, outcome in zip(tasks, outcomes, strict=True)]


def dump(tasks: list[IndexedTask]) -> list[dict[str, object]]:
    return [t.model_dump(mode="json") for t in tasks]


# ------------------------------------------------------------------ determinism and shape


def test_same_seed_same_tasks(calc_tasks: list[IndexedTask], power_tasks: list[IndexedTask]) -> None:
    assert dump(build_calc_tasks(SEED)) == dump(calc_tasks)
    assert dump(build_power_tasks(SEED)) == dump(power_tasks)


def test_other_seed_other_tasks(calc_tasks: list[IndexedTask]) -> None:
    other = {t.task.task_id for t in build_calc_tasks(SEED + 1)}
    assert len(other & {t.task.task_id for t in calc_tasks}) < len(calc_tasks) // 10


@pytest.mark.parametrize("dataset", ["medgym_calc", "medgym_power"])
def test_ids_unique_and_split(
    dataset: str, calc_tasks: list[IndexedTask], power_tasks: list[IndexedTask]
) -> None:
    tasks = calc_tasks if dataset == "medgym_calc" else power_tasks
    ids = [t.task.task_id for t in tasks]
    assert len(set(ids)) == len(ids)
    for t in tasks:
        assert t.task.dataset == dataset
        assert re.fullmatch(rf"{dataset}/(train|test)/[a-z0-9-]+", t.task.task_id)
        assert t.task.task_id.split("/")[1] == t.task.split
    train = sum(t.task.split == "train" for t in tasks) / len(tasks)
    assert 0.55 <= train <= 0.85


def test_calc_coverage(calc_tasks: list[IndexedTask]) -> None:
    per_calc = Counter(t.task.category for t in calc_tasks)
    assert len(per_calc) >= 20
    assert len(calc_tasks) >= 220
    assert min(per_calc.values()) >= 10
    kinds = {t.task.category: t.task.answer_format.kind for t in calc_tasks}
    assert Counter(kinds.values())["integer"] >= 4
    assert {"Estimated Due Date", "Estimated of Conception"} <= {c for c, k in kinds.items() if k == "date"}
    assert kinds["Estimated Gestational Age"] == "gestational_age"
    negative = [t for t in calc_tasks if isinstance(t.key, RangeKey) and t.key.upper < 0]
    assert {t.task.category for t in negative} >= {"Delta Gap", "Free Water Deficit"}


def test_calc_keys_shape(calc_tasks: list[IndexedTask]) -> None:
    for t in calc_tasks:
        kind = t.task.answer_format.kind
        if kind in ("date", "gestational_age"):
            assert isinstance(t.key, DateKey if kind == "date" else GestationalAgeKey)
            continue
        assert isinstance(t.key, RangeKey) and t.key.lower <= t.key.upper
        if kind == "integer" and t.task.category != "MELD Na (UNOS/OPTN)":
            assert t.key.lower == t.key.upper == round(t.key.lower)


def test_power_coverage(power_tasks: list[IndexedTask]) -> None:
    assert len(power_tasks) >= 120
    per_design = Counter((t.task.category, type(t.key).__name__) for t in power_tasks)
    for test in DESIGNS:
        assert per_design[(test, "IntegerKey")] >= 12
        assert per_design[(test, "RelativeKey")] >= 12
    for t in power_tasks:
        if isinstance(t.key, RelativeKey):
            assert 0.2 <= t.key.value <= 0.97 and t.key.rel_tol == 0.01


NO_EFFECT: dict[str, dict[str, object]] = {
    "One-sample t-test": {"mean": 5.0, "reference": 5.0, "sd": 2.0},
    "Paired t-test": {"mean_diff": 0.0, "sd_diff": 2.0},
    "Two independent samples t-test": {"mean1": 5.0, "mean2": 5.0, "sd1": 2.0, "sd2": 3.0},
    "One-way ANOVA": {"means": [40.0, 40.0, 40.0], "sd": 10.0},
    "Chi-square test of independence": {"table": [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], "df": 2},
}


@pytest.mark.parametrize("target", ["size", "power"])
@pytest.mark.parametrize("test", sorted(NO_EFFECT))
def test_a_design_with_no_effect_has_no_answer(test: PowerTest, target: Target) -> None:
    """statsmodels raises on an effect size of 0; the generator must see "no answer" and draw again."""
    params = {**NO_EFFECT[test], "alpha": 0.05, "power": 0.8, "n": 60}
    answer = solve(test, target, params)  # type: ignore[arg-type]
    assert math.isnan(answer) and usable_answer(target, answer) is None


def test_a_seed_that_draws_identical_groups_still_builds() -> None:
    """Seed 188 draws a chi-square table whose two rows round to the same proportions (w = 0): that
    crashed the whole pack build (1 seed in 1,000 scanned), so such a new home could not start."""
    tasks = build_power_tasks(188)
    assert len(tasks) == len(DESIGNS) * 2 * INSTANCES_PER_DESIGN
    assert all(t.key is not None for t in tasks)


# ------------------------------------------------------------------ no leaks, no trivial passes


def test_notes_do_not_state_the_answer(calc_tasks: list[IndexedTask]) -> None:
    for t in calc_tasks:
        note = t.task.context or ""
        assert note and "{" not in note and "{" not in t.task.question
        assert not re.search(r"\banswer\b|score is|score of", note, re.IGNORECASE), t.task.task_id
        truth = (t.key.lower + t.key.upper) / 2 if isinstance(t.key, RangeKey) else 0.0
        if truth != round(truth):
            assert f"{truth:.3f}".rstrip("0") not in note, t.task.task_id


def test_public_task_carries_no_solution(
    calc_tasks: list[IndexedTask], power_tasks: list[IndexedTask]
) -> None:
    for t in calc_tasks + power_tasks:
        public = t.task.model_dump_json()
        assert "print(json.dumps" not in public and "medcalc" not in (t.reference_solution or "")


def test_constant_answers_fail(calc_tasks: list[IndexedTask], power_tasks: list[IndexedTask]) -> None:
    tasks = calc_tasks + power_tasks
    passed = [t.task.task_id for t in tasks if accepts(t.key, 0) or accepts(t.key, 1)]
    assert len(passed) <= 0.05 * len(tasks), passed


# ------------------------------------------------------------------ reference solutions


def test_calc_reference_solutions_land_in_key(calc_tasks: list[IndexedTask]) -> None:
    """Independent formulas (stdlib only, no site-packages, so no medcalc) agree with medcalc-bench."""
    wrong = [
        f"{t.task.task_id}: {answer!r} vs {t.key!r}"
        for t, answer in run_all(calc_tasks, STDLIB_ONLY)
        if not accepts(t.key, answer)
    ]
    assert not wrong, wrong


def test_power_reference_solutions_land_in_key(power_tasks: list[IndexedTask]) -> None:
    """statsmodels programs, run in a few separate interpreters (the library is imported once in each)."""
    wrong = [
        f"{t.task.task_id}: {answer!r} vs {t.key!r}"
        for t, answer in run_all(power_tasks, ("-I",))
        if not accepts(t.key, answer)
    ]
    assert not wrong, wrong
    sizes = [t for t in power_tasks if isinstance(t.key, IntegerKey)]
    assert all(t.key.value >= 4 and not math.isnan(t.key.value) for t in sizes)  # type: ignore[union-attr]
