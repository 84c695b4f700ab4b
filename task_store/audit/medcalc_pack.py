"""MedCalcBench entities -> the built-in pack's independent calculators (`Calculator.formula`).

Each pack calculator carries a plain-Python `answer(v)` written for the pack (not medcalc-bench).
`PACK_INPUTS` turns a record's entities into that calculator's input values (`v`, built in
`medcalc_inputs` and `medcalc_inputs_scores`); `run_formula` runs the pack's formula on them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime

from task_store.audit import medcalc_inputs as m
from task_store.audit import medcalc_inputs_scores as s
from task_store.audit import units as u
from task_store.audit.entities import Entities
from task_store.pack.calc_patients import Values
from task_store.pack.calc_spec import SOLUTION_PRELUDE
from task_store.pack.calc_tasks import CALCULATORS

Answer = float | date | tuple[int, int]
Inputs = Callable[[Entities], Values]


def run_formula(slug: str, values: Values) -> Answer:
    """The pack calculator `slug`'s own answer for `values`, normalised."""
    return _normalise(_answer_function(slug)(values))


@functools.cache
def _answer_function(slug: str) -> Callable[[Values], object]:
    calc = next(c for c in CALCULATORS if c.slug == slug)
    namespace: dict[str, object] = {}
    exec(compile(f"{SOLUTION_PRELUDE}\n\n{calc.formula}", f"<pack formula {slug}>", "exec"), namespace)
    answer = namespace["answer"]
    assert callable(answer)
    return answer


def _normalise(result: object) -> Answer:
    if isinstance(result, str):
        return datetime.strptime(result, "%m/%d/%Y").date()
    if isinstance(result, list) and len(result) == 2:
        return int(result[0]), int(result[1])
    if isinstance(result, int | float):
        return float(result)
    raise TypeError(f"unexpected pack answer {result!r}")


def pack_name_to_slug() -> dict[str, str]:
    """MedCalcBench calculator name -> pack slug, for every pack calculator with an input mapping."""
    return {c.name: c.slug for c in CALCULATORS if c.slug in PACK_INPUTS}


PACK_INPUTS: dict[str, Inputs] = {
    "bmi": m.body,
    "ideal-body-weight": lambda e: {"sex": e.sex(), **m.body(e, weight=False)},
    "adjusted-body-weight": lambda e: {"sex": e.sex(), **m.body(e)},
    "body-surface-area": m.body,
    "maintenance-fluids": lambda e: m.body(e, height=False),
    "creatinine-clearance": m.crcl,
    "mdrd-gfr": m.mdrd,
    "ckd-epi-2021": m.ckd_epi,
    "free-water-deficit": m.fwd,
    "anion-gap": m.electrolytes,
    "delta-gap": m.electrolytes,
    "albumin-corrected-anion-gap": lambda e: m.electrolytes(e, albumin=True),
    "calcium-correction": lambda e: {
        "calcium": e.measure(u.CALCIUM, "Calcium"), "albumin": e.measure(u.ALBUMIN, "Albumin")
    },
    "serum-osmolality": m.osmolality,
    "sodium-correction-hyperglycemia": lambda e: {
        "sodium": e.measure(u.SODIUM, "Sodium"), "glucose": e.measure(u.GLUCOSE, "Glucose")
    },
    "fena": m.fena,
    "ldl-calculated": m.ldl,
    "homa-ir": lambda e: {"insulin": e.measure(u.INSULIN, "Insulin"), "glucose": e.measure(u.GLUCOSE, "Glucose")},
    "fib-4": m.fib4,
    "meld-na": m.meld,
    "child-pugh": s.child_pugh,
    "mean-arterial-pressure": lambda e: {
        "sys_bp": e.measure(u.PRESSURE, *m.SYSTOLIC), "dia_bp": e.measure(u.PRESSURE, *m.DIASTOLIC)
    },
    "qtc-bazett": m.qt,
    "qtc-fredericia": m.qt,
    "qtc-framingham": m.qt,
    "qtc-hodges": m.qt,
    "qtc-rautaharju": m.qt,
    "cha2ds2-vasc": s.cha2ds2_vasc,
    "has-bled": s.has_bled,
    "centor-score": s.centor,
    "feverpain": s.feverpain,
    "curb-65": s.curb65,
    "sirs-criteria": s.sirs,
    "glasgow-coma-score": s.gcs,
    "wells-dvt": s.wells_dvt,
    "wells-pe": s.wells_pe,
    "perc-rule": s.perc,
    "due-date": lambda e: {"lmp": m.date_iso(e, *m.LMP), "cycle_length": int(e.number("cycle length"))},
    "conception-date": lambda e: {"lmp": m.date_iso(e, *m.LMP)},
    "gestational-age": lambda e: {"lmp": m.date_iso(e, *m.LMP), "today": m.date_iso(e, "Current Date")},
    "steroid-conversion": m.steroid,
}
