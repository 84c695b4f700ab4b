"""Synthetic patients for the calculator tasks: seeded values and a prose note.

A calculator's sampler draws the structured values it needs (`Values`, the same numbers the
reference solution embeds) and fills a `Note` with the clinical story around them; `render_note`
turns that into prose with varied phrasing. Everything is driven by one `random.Random`, so the
same seed always gives the same patient and the same wording.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

Scalar = float | int | str | bool
Values = dict[str, Scalar]
Sex = Literal["Male", "Female"]


@dataclass(frozen=True)
class Reading:
    """One measured value as it appears in the note, e.g. `sodium 137 mEq/L`."""

    label: str
    value: str
    unit: str = ""

    def text(self) -> str:
        return f"{self.label} {self.value}{' ' + self.unit if self.unit else ''}"


@dataclass
class Note:
    """The parts of a patient note; `render_note` orders and phrases them."""

    age: int
    sex: Sex
    reason: str
    age_unit: Literal["year", "month"] = "year"
    descriptor: str = ""
    history: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    story: list[str] = field(default_factory=list)
    vitals: list[Reading] = field(default_factory=list)
    body: list[Reading] = field(default_factory=list)
    exam: list[str] = field(default_factory=list)
    labs: list[Reading] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def fmt(x: float, places: int = 1) -> str:
    """A number as a clinician would write it: no trailing zeros, at most `places` decimals."""
    text = f"{x:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def draw(rng: random.Random, lo: float, hi: float, places: int = 1) -> float:
    """A uniform draw rounded to `places` decimals (0 gives a whole number as float)."""
    return round(rng.uniform(lo, hi), places)


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def pick_sex(rng: random.Random) -> Sex:
    return "Male" if rng.random() < 0.5 else "Female"


def adult(rng: random.Random, reasons: tuple[str, ...], lo: int = 18, hi: int = 88) -> tuple[Values, Note]:
    """An adult patient's age and sex, and the start of their note (a reason for the visit)."""
    sex = pick_sex(rng)
    values: Values = {"age": rng.randint(lo, hi), "sex": sex}
    return values, Note(age=int(values["age"]), sex=sex, reason=rng.choice(reasons))


def body_size(
    rng: random.Random, sex: Sex, bmi_lo: float = 18.0, bmi_hi: float = 38.0
) -> tuple[float, float]:
    """(weight kg, height cm) of an adult, weight to 0.1 kg, height to whole cm, at least 153 cm.

    The floor keeps heights above 60 in, where the Devine ideal-weight formula is unambiguous.
    """
    mean = 176.0 if sex == "Male" else 163.0
    height = float(round(min(max(rng.gauss(mean, 7.0), 153.0), mean + 16)))
    weight = round(rng.uniform(bmi_lo, bmi_hi) * (height / 100) ** 2, 1)
    return weight, height


def add_body(
    rng: random.Random,
    sex: Sex,
    values: Values,
    note: Note,
    bmi: tuple[float, float] = (18.0, 38.0),
    imperial: float = 0.25,
) -> tuple[float, float]:
    """Draw weight and height into `values` and `note` (sometimes in lbs/in); return (kg, cm)."""
    weight, height = body_size(rng, sex, *bmi)
    if chance(rng, imperial):
        lbs, inches = round(weight / 0.453592, 1), round(height / 2.54, 1)
        values.update(weight=lbs, weight_unit="lbs", height=inches, height_unit="in")
        note.body = [Reading("weight", fmt(lbs), "lbs"), Reading("height", fmt(inches), "in")]
        return lbs * 0.453592, inches * 2.54
    values.update(weight=weight, weight_unit="kg", height=height, height_unit="cm")
    note.body = [Reading("weight", fmt(weight), "kg"), Reading("height", fmt(height, 0), "cm")]
    return weight, height


# ---------------------------------------------------------------- rendering

_OPENINGS = (
    "{A} {age} {person} {reason}.",
    "The patient is {a} {age} {person} who {reason}.",
    "We report {a} {age} {person} who {reason}.",
    "{A} {age} {person} with no prior admissions to this hospital {reason}.",
)
_HISTORY = (
    "{Pos} past medical history is notable for {items}.",
    "{Sub} has a history of {items}.",
    "{Pos} medical history includes {items}.",
)
_NEGATIVES = (
    "{Sub} has no history of {items}.",
    "There is no known history of {items}.",
    "{Sub} denies any history of {items}.",
)
_VITALS = (
    "On examination, {pos} vital signs were {items}.",
    "Vital signs on arrival were: {items}.",
    "Vital signs: {items}.",
    "Initial vitals showed {items}.",
)
_LABS = (
    "Laboratory studies showed {items}.",
    "Admission blood work revealed {items}.",
    "Initial laboratory results were as follows: {items}.",
    "Serum studies were notable for {items}.",
)
_CLOSINGS = (
    "",
    "The findings were reviewed with the attending physician.",
    "Further workup was initiated.",
    "The team discussed the findings with the patient and family.",
)


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])}{',' if len(items) > 2 else ''} {word} {items[-1]}"


def describe(note: Note) -> str:
    """A short description such as "64-year-old Black man", for titles."""
    return f"{_age(note)} {_person(note)}"


def _person(note: Note) -> str:
    young = note.age_unit == "month" or note.age < 18
    noun = ("boy" if young else "man") if note.sex == "Male" else ("girl" if young else "woman")
    return f"{note.descriptor} {noun}".strip()


def _age(note: Note) -> str:
    return f"{note.age}-{note.age_unit}-old"


def _pronouns(note: Note) -> dict[str, str]:
    male = note.sex == "Male"
    sub, pos = ("he", "his") if male else ("she", "her")
    return {"sub": sub, "pos": pos, "Sub": sub.capitalize(), "Pos": pos.capitalize()}


def _body_text(rng: random.Random, note: Note, pro: dict[str, str]) -> str:
    parts = {r.label: f"{r.value} {r.unit}" for r in note.body}
    if set(parts) == {"weight", "height"}:
        return rng.choice(
            (
                f"{pro['Sub']} weighs {parts['weight']} and is {parts['height']} tall.",
                f"{pro['Pos']} height is {parts['height']} and {pro['pos']} weight is {parts['weight']}.",
                f"Measured height was {parts['height']} and weight {parts['weight']}.",
            )
        )
    return " ".join(f"{pro['Pos']} {label} is {value}." for label, value in parts.items())


def render_note(note: Note, rng: random.Random) -> str:
    """The note as prose: opening, history, medications, story, vitals, body, exam, labs."""
    pro = _pronouns(note)
    article = "an" if str(note.age).startswith("8") or note.age in (11, 18) else "a"
    opening = rng.choice(_OPENINGS).format(
        A=article.capitalize(), a=article, age=_age(note), person=_person(note), reason=note.reason
    )
    sentences = [opening]
    if note.history:
        sentences.append(rng.choice(_HISTORY).format(items=_join(note.history), **pro))
    if note.negatives:
        sentences.append(rng.choice(_NEGATIVES).format(items=_join(note.negatives, "or"), **pro))
    if note.medications:
        sentences.append(f"{pro['Pos']} medications include {_join(note.medications)}.")
    sentences += [s.format(**pro) for s in note.story]
    if note.vitals:
        sentences.append(rng.choice(_VITALS).format(items=_join([r.text() for r in note.vitals]), **pro))
    if note.body:
        sentences.append(_body_text(rng, note, pro))
    sentences += [s.format(**pro) for s in note.exam]
    if note.labs:
        sentences.append(rng.choice(_LABS).format(items=_join([r.text() for r in note.labs])))
    sentences += [s.format(**pro) for s in note.extra]
    sentences.append(rng.choice(_CLOSINGS).format(**pro))
    text = " ".join(s for s in sentences if s)
    return text[0].upper() + text[1:]


# ---------------------------------------------------------------- distractors

_DISTRACTOR_LABS: tuple[tuple[str, float, float, int, str], ...] = (
    ("hemoglobin", 9.5, 15.5, 1, "g/dL"),
    ("potassium", 3.3, 5.2, 1, "mEq/L"),
    ("white blood cell count", 4.5, 11.0, 1, "× 10³/µL"),
    ("magnesium", 1.7, 2.4, 1, "mg/dL"),
    ("phosphate", 2.6, 4.5, 1, "mg/dL"),
    ("total protein", 6.0, 8.2, 1, "g/dL"),
    ("lactate", 0.6, 1.9, 1, "mmol/L"),
)


def distractor_labs(rng: random.Random, taken: set[str], n: int = 2) -> list[Reading]:
    """`n` unrelated laboratory values whose names are not in `taken`."""
    pool = [d for d in _DISTRACTOR_LABS if d[0] not in taken]
    chosen = rng.sample(pool, n)
    return [Reading(name, f"{draw(rng, lo, hi, p):.{p}f}", unit) for name, lo, hi, p, unit in chosen]


def plain_vitals(rng: random.Random, taken: set[str]) -> list[Reading]:
    """Unremarkable vital signs for the labels not in `taken`."""
    systolic = rng.randint(108, 142)
    options = {
        "blood pressure": Reading("blood pressure", f"{systolic}/{rng.randint(62, 88)}", "mm Hg"),
        "heart rate": Reading("heart rate", str(rng.randint(62, 96)), "beats per minute"),
        "respiratory rate": Reading("respiratory rate", str(rng.randint(12, 19)), "breaths per minute"),
        "temperature": Reading("temperature", f"{draw(rng, 36.4, 37.6):.1f}", "°C"),
    }
    return [reading for label, reading in options.items() if label not in taken]


LabSpec = tuple[str, str, float, float, int, str]
"""(value key, label in the note, low, high, decimals, unit) of one drawn laboratory value."""


def lab_patient(
    rng: random.Random,
    reasons: tuple[str, ...],
    labs: tuple[LabSpec, ...],
    ages: tuple[int, int] = (19, 88),
) -> tuple[Values, Note]:
    """An adult with the given labs drawn (in shuffled order, plus two distractors) and plain vitals."""
    sex = pick_sex(rng)
    values: Values = {"age": rng.randint(*ages), "sex": sex}
    readings = []
    for key, label, lo, hi, places, unit in labs:
        value = draw(rng, lo, hi, places)
        values[key] = value
        readings.append(Reading(label, f"{value:.{places}f}", unit))
    rng.shuffle(readings)
    readings += distractor_labs(rng, {label for _, label, *_ in labs}, 2)
    note = Note(age=int(values["age"]), sex=sex, reason=rng.choice(reasons), labs=readings)
    note.vitals = plain_vitals(rng, set())
    return values, note


Condition = tuple[str, float, str, str]
"""(value key, probability, text if present, text if absent ("" = not mentioned))."""


def add_history(rng: random.Random, conditions: tuple[Condition, ...], values: Values, note: Note) -> None:
    """Draw each yes/no condition; present ones join the history, absent ones the denials."""
    for key, p, present, absent in rng.sample(conditions, len(conditions)):
        values[key] = chance(rng, p)
        if values[key]:
            note.history.append(present)
        elif absent:
            note.negatives.append(absent)


def add_findings(rng: random.Random, findings: tuple[Condition, ...], values: Values, note: Note) -> None:
    """Draw each yes/no finding and add its sentence (present or absent form) to the examination."""
    for key, p, present, absent in rng.sample(findings, len(findings)):
        values[key] = chance(rng, p)
        sentence = present if values[key] else absent
        if sentence:
            note.exam.append(sentence)
