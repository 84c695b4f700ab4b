"""Pregnancy dating: estimated due date, estimated conception date and gestational age."""

from __future__ import annotations

import random
from datetime import date, timedelta

from task_store.pack.calc_patients import Note, Values, plain_vitals
from task_store.pack.calc_spec import Calculator

_REASONS = (
    "presented for her first prenatal visit after a positive home pregnancy test",
    "came to the obstetrics clinic to confirm an early pregnancy",
    "was seen in the antenatal clinic for pregnancy dating",
)


_VISITS = (
    "was seen in the antenatal clinic for a routine visit",
    "presented to obstetric triage with mild lower abdominal cramping",
    "transferred her prenatal care to our clinic after moving to the area",
)


def _us(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def _pregnant(rng: random.Random) -> tuple[Values, Note, date]:
    lmp = date(2012, 1, 1) + timedelta(days=rng.randrange(365 * 13))
    values: Values = {"age": rng.randint(18, 44), "lmp": lmp.isoformat()}
    gravida = rng.randint(1, 4)
    note = Note(age=int(values["age"]), sex="Female", reason=rng.choice(_REASONS))
    note.descriptor = f"gravida {gravida} para {rng.randint(0, gravida - 1)}"
    note.vitals = plain_vitals(rng, {"respiratory rate"})
    return values, note, lmp


def _sample_due(rng: random.Random) -> tuple[Values, Note]:
    # medcalc-bench 1.7.0 adds |cycle - 28| days even for short cycles (Naegele subtracts them),
    # so only cycles of 28 days or longer are drawn.
    values, note, lmp = _pregnant(rng)
    cycle = rng.choice((28, 28, 29, 30, 31, 32, 33, 34, 35))
    values["cycle_length"] = cycle
    note.story = [
        f"{{Pos}} last menstrual period began on {_us(lmp)}.",
        f"{{Pos}} menstrual cycles are regular, lasting {cycle} days.",
    ]
    return values, note


def _sample_conception(rng: random.Random) -> tuple[Values, Note]:
    values, note, lmp = _pregnant(rng)
    note.story = [
        f"{{Pos}} last menstrual period started on {_us(lmp)}, and {{pos}} cycles are regular at 28 days.",
    ]
    return values, note


def _sample_gestation(rng: random.Random) -> tuple[Values, Note]:
    values, note, lmp = _pregnant(rng)
    today = lmp + timedelta(days=rng.randint(30, 290))
    note.reason = rng.choice(_VISITS)
    values["today"] = today.isoformat()
    note.story = [f"Today's date is {_us(today)}.", f"{{Pos}} last menstrual period was on {_us(lmp)}."]
    return values, note


_DUE_FORMULA = """
def answer(v):
    lmp = date.fromisoformat(v["lmp"])
    due = lmp + timedelta(days=280 + (v["cycle_length"] - 28))
    return due.strftime("%m/%d/%Y")
"""
_CONCEPTION_FORMULA = """
def answer(v):
    return (date.fromisoformat(v["lmp"]) + timedelta(days=14)).strftime("%m/%d/%Y")
"""
_GESTATION_FORMULA = """
def answer(v):
    days = (date.fromisoformat(v["today"]) - date.fromisoformat(v["lmp"])).days
    return [days // 7, days % 7]
"""

OBSTETRIC_CALCULATORS = (
    Calculator(
        "due-date",
        "Estimated Due Date",
        "date",
        "Using Naegele's Rule for estimated due date based on the last menstrual period and cycle length, "
        "what is the the patient's estimated due date? Your response should be in the format of M/D/Y "
        "(ie 08/31/2023, 07/03/2000) with just the date and not other text.",
        "Naegele's rule: the due date is 280 days (40 weeks) after the first day of the last menstrual "
        "period, adjusted by the cycle length: add (cycle length - 28) days.",
        _sample_due,
        ("estimated_due_date", "add_40_weeks_explanation"),
        lambda v: {
            "menstrual_date": _us(date.fromisoformat(str(v["lmp"]))),
            "cycle_length": v["cycle_length"],
        },
        _DUE_FORMULA,
    ),
    Calculator(
        "conception-date",
        "Estimated of Conception",
        "date",
        "Based on the patient's last menstrual period, what is the the patient's estimated date of "
        "conception? Your answer should be in the format of M/D/Y (ie 08/31/2023, 07/03/2000) with just "
        "the date and not other text.",
        "With a regular 28-day cycle, conception is estimated at 2 weeks (14 days) after the first day of "
        "the last menstrual period.",
        _sample_conception,
        ("conception_date", "add_2_weeks_explanation"),
        lambda v: {"menstrual_date": _us(date.fromisoformat(str(v["lmp"]))), "cycle_length": 28},
        _CONCEPTION_FORMULA,
    ),
    Calculator(
        "gestational-age",
        "Estimated Gestational Age",
        "gestational_age",
        "Based on the patient's last menstrual period, what is the patient's estimated gestational age? "
        "Your answer should be a tuple, specifying the number of weeks and days (i.e. (4 weeks, 3 days), "
        "(0 weeks, 5 days), (1 week, 5 days), (8 weeks, 0 days)).",
        "Gestational age is the time elapsed since the first day of the last menstrual period: count the "
        "days from that date to today and express them as whole weeks plus remaining days.",
        _sample_gestation,
        ("gestational_age", "compute_gestational_age_explanation"),
        lambda v: {
            "menstrual_date": _us(date.fromisoformat(str(v["lmp"]))),
            "current_date": _us(date.fromisoformat(str(v["today"]))),
        },
        _GESTATION_FORMULA,
    ),
)
