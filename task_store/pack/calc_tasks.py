"""The `medgym_calc` pack: MedCalcBench-shaped calculator tasks over synthetic patient notes.

Ground truth comes from the medcalc-bench reference implementations; every task also carries an
independent reference solution (plain Python, no medcalc) whose answer must fall inside the key.
Accepted ranges follow MedCalcBench: ±5% for decimal results, exact for scores and dates.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from datetime import date

from scoring.keys import AnswerKey, DateKey, GestationalAgeKey, RangeKey
from task_store.models import AnswerFormat, IndexedTask, Task
from task_store.pack.build import hash_split
from task_store.pack.calc_acute import ACUTE_CALCULATORS
from task_store.pack.calc_body import BODY_CALCULATORS
from task_store.pack.calc_cardiac import CARDIAC_CALCULATORS
from task_store.pack.calc_chem import CHEM_CALCULATORS
from task_store.pack.calc_critical import CRITICAL_CALCULATORS
from task_store.pack.calc_drugs import DRUG_CALCULATORS
from task_store.pack.calc_labs import LAB_CALCULATORS
from task_store.pack.calc_medcalc import Truth, medcalc_truth
from task_store.pack.calc_obstetric import OBSTETRIC_CALCULATORS
from task_store.pack.calc_patients import Note, Values, describe, render_note
from task_store.pack.calc_renal import RENAL_CALCULATORS
from task_store.pack.calc_risk import RISK_CALCULATORS
from task_store.pack.calc_spec import CalcKind, Calculator, solution_source
from task_store.pack.calc_thrombo import THROMBO_CALCULATORS

DATASET = "medgym_calc"
INSTANCES_PER_CALCULATOR = 10
CALCULATORS: tuple[Calculator, ...] = (
    BODY_CALCULATORS
    + RENAL_CALCULATORS
    + CHEM_CALCULATORS
    + LAB_CALCULATORS
    + CARDIAC_CALCULATORS
    + RISK_CALCULATORS
    + ACUTE_CALCULATORS
    + CRITICAL_CALCULATORS
    + THROMBO_CALCULATORS
    + OBSTETRIC_CALCULATORS
    + DRUG_CALCULATORS
)
HOW_TO_SUBMIT: dict[CalcKind, str] = {
    "number": "submit one number (e.g. 12.5), no units",
    "integer": "submit the score as one whole number (e.g. 3)",
    "date": "submit the date as MM/DD/YYYY (e.g. 08/31/2023)",
    "gestational_age": 'submit weeks and days, e.g. "35 weeks 4 days" or [35, 4]',
}


def build_calc_tasks(seed: int, per_calculator: int = INSTANCES_PER_CALCULATOR) -> list[IndexedTask]:
    """All calculator tasks for `seed`; the same seed always gives the same tasks, ids and keys."""
    return [task for calc in CALCULATORS for task in calculator_tasks(calc, seed, per_calculator)]


MAX_ANSWER_SHARE = 0.3  # at most this share of a calculator's instances may have the same answer


def calculator_tasks(calc: Calculator, seed: int, count: int) -> list[IndexedTask]:
    """`count` distinct instances of one calculator, skipping degenerate draws (see `degenerate`) and
    spreading the answers: no answer value is shared by more than `MAX_ANSWER_SHARE` of them when the
    calculator allows it (so a constant guess scores little on any one calculator)."""
    rng = random.Random(f"{DATASET}:{seed}:{calc.slug}")
    tasks: list[IndexedTask] = []
    seen: set[str] = set()
    answers: Counter[str] = Counter()
    for cap in (max(1, math.ceil(count * MAX_ANSWER_SHARE)), count):
        for _ in range(count * 50):
            if len(tasks) == count:
                return tasks
            values, note = calc.sample(rng)
            key = answer_key(calc, medcalc_truth(*calc.medcalc, calc.params(values)))
            tid = task_tid(calc.slug, values)
            if tid in seen or degenerate(key) or answers[answer_token(key)] >= cap:
                continue
            seen.add(tid)
            answers[answer_token(key)] += 1
            tasks.append(_indexed(calc, values, note, render_note(note, rng), key, tid, len(tasks)))
    if len(tasks) < count:
        raise RuntimeError(f"{calc.slug}: only {len(tasks)} of {count} usable instances")
    return tasks


def answer_token(key: AnswerKey) -> str:
    """What two tasks with the same answer share (a range by its middle)."""
    if isinstance(key, RangeKey):
        return f"{(key.lower + key.upper) / 2:.6g}"
    return key.model_dump_json()


def answer_key(calc: Calculator, truth: Truth) -> AnswerKey:
    """The MedCalcBench-style key for a ground-truth answer of `calc`."""
    if isinstance(truth, date):
        return DateKey(date=truth.isoformat())
    if isinstance(truth, tuple):
        return GestationalAgeKey(weeks=truth[0], days=truth[1])
    low, high = truth * (1 - calc.rel_tol), truth * (1 + calc.rel_tol)
    return RangeKey(lower=min(low, high), upper=max(low, high))


def degenerate(key: AnswerKey) -> bool:
    """True when a constant 0 or 1 would pass `key`, or the value is so near 0 that ±5% is meaningless."""
    if not isinstance(key, RangeKey):
        return False
    return any(key.lower <= c <= key.upper for c in (0.0, 1.0)) or max(abs(key.lower), abs(key.upper)) < 0.1


def task_tid(slug: str, values: Values) -> str:
    """A stable id: calculator slug plus a short hash of the patient's values."""
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    return f"{slug}-{digest[:10]}"


def _indexed(
    calc: Calculator, values: Values, note: Note, text: str, key: AnswerKey, tid: str, row: int
) -> IndexedTask:
    split = hash_split(tid)
    how = HOW_TO_SUBMIT[calc.kind]
    task = Task(
        task_id=f"{DATASET}/{split}/{tid}",
        dataset=DATASET,
        split=split,
        category=calc.name,
        title=f"{calc.name} ({describe(note)})",
        question=calc.question.format_map(values),
        context=text,
        instructions=(
            "Read the patient note and compute the requested value.\n\n"
            f"How this calculator works: {calc.summary}\n\nAnswer format: {how}."
        ),
        answer_format=AnswerFormat(kind=calc.kind, how_to_submit=how),
    )
    return IndexedTask(
        task=task,
        key=key,
        reference_solution=solution_source(calc.formula, values),
        source=f"pack:{DATASET}/{calc.slug}/{row}",
    )
