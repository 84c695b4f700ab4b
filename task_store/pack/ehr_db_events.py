"""Event tables of the synthetic EHR: what happens inside one admission or one ICU stay.

`ehr_db` builds patients, admissions and ICU stays and calls `admission_events` and
`icu_events` for each; `cost_rows` prices the billable events at the end. Every event time lies
inside its admission (or ICU stay) and before the reference time. Times of one kind of event are
distinct within an admission (per item for labs, charts and fluids), so "first" and "last" are
never ties.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from task_store.pack import ehr_vocab as v

T = TypeVar("T")
Value = int | float | str | datetime | None

_BY_LABEL_LAB = {lab.measure.label: lab for lab in v.LAB_ITEMS}
_DX_LINKS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    # (diagnosis codes, procedure codes, drugs) that go together
    (("41401", "41071", "412"), ("8856", "3722", "0066", "3607", "3615", "3961", "8872"),
     ("aspirin", "clopidogrel bisulfate", "atorvastatin", "metoprolol tartrate", "heparin")),
    (("4280", "42823", "42833", "4254"), ("8872",), ("furosemide", "lisinopril", "metoprolol tartrate")),
    (("42731", "42789", "4271"), ("3778",), ("amiodarone", "warfarin", "diltiazem", "metoprolol tartrate")),
    (("5849", "5845", "5859", "40390"), ("3995",), ("calcium gluconate", "potassium chloride")),
    (("51881", "51884", "5070", "486", "496"), ("9604", "9671", "9672", "311", "9390", "8741", "3324"),
     ("vancomycin", "piperacillin-tazobactam", "levofloxacin", "albuterol neb soln", "propofol",
      "fentanyl citrate", "midazolam", "ipratropium bromide neb")),
    (("0389", "99591", "99592", "78552", "7907"), ("3893", "3891", "9904"),
     ("vancomycin", "piperacillin-tazobactam", "norepinephrine", "ceftriaxone")),
    (("25000",), (), ("insulin", "metformin")),
    (("2851", "2859", "5789", "2809"), ("9904", "4516", "4523"), ("pantoprazole", "famotidine")),
    (("5990",), (), ("ceftriaxone",)),
    (("2449",), (), ("levothyroxine sodium",)),
    (("3051", "v1582"), (), ("nicotine patch",)),
    (("00845",), (), ("metronidazole",)),
    (("5712", "5715", "570"), ("5491", "9907"), ("lactulose",)),
    (("30390", "2930"), (), ("lorazepam", "haloperidol")),
    (("2875", "2869"), ("9905", "9907"), ()),
)


def weighted(rng: random.Random, items: Sequence[tuple[T, int]]) -> T:
    return rng.choices([item for item, _ in items], [w for _, w in items])[0]


def distinct_times(rng: random.Random, start: datetime, end: datetime, k: int) -> list[datetime]:
    """Up to k distinct whole-minute times in [start, end), sorted."""
    minutes = max(int((end - start).total_seconds() // 60), 1)
    picks = sorted(rng.sample(range(minutes), min(k, minutes)))
    base = start.replace(second=0)
    return [base + timedelta(minutes=m + 1) for m in picks if base + timedelta(minutes=m + 1) < end]


@dataclass
class Tables:
    """Rows of every table, each starting with its ROW_ID (1, 2, ... in insertion order)."""

    rows: dict[str, list[tuple[Value, ...]]] = field(default_factory=dict)

    def add(self, table: str, *values: Value) -> int:
        rows = self.rows.setdefault(table, [])
        row_id = len(rows) + 1
        rows.append((row_id, *values))
        return row_id


@dataclass(frozen=True)
class Stay:
    icustay_id: int
    intime: datetime
    outtime: datetime | None


@dataclass(frozen=True)
class Admission:
    subject_id: int
    hadm_id: int
    admittime: datetime
    dischtime: datetime | None
    end: datetime  # dischtime, or the reference time for a current admission
    stays: tuple[Stay, ...]


def _pick_distinct(rng: random.Random, items: Sequence[tuple[T, int]], k: int) -> list[T]:
    out: list[T] = []
    for _ in range(4 * k):
        item = weighted(rng, items)
        if item not in out:
            out.append(item)
        if len(out) == k:
            break
    return out


def admission_events(t: Tables, rng: random.Random, adm: Admission) -> None:
    dx_codes = _pick_distinct(rng, [(d.code, d.weight) for d in v.DIAGNOSES], rng.randint(3, 10))
    first_day = min(adm.end, adm.admittime + timedelta(hours=20))
    dx_times = distinct_times(rng, adm.admittime, first_day, len(dx_codes))
    for code, when in zip(dx_codes, dx_times, strict=False):
        t.add("diagnoses_icd", adm.subject_id, adm.hadm_id, code, when)
    px_codes, drugs = _linked(rng, dx_codes, bool(adm.stays))
    rng.shuffle(px_codes)
    rng.shuffle(drugs)
    for code, when in zip(px_codes, distinct_times(rng, adm.admittime, adm.end, len(px_codes)), strict=False):
        t.add("procedures_icd", adm.subject_id, adm.hadm_id, code, when)
    _prescriptions(t, rng, adm, drugs)
    _labs(t, rng, adm)
    _micro(t, rng, adm)


def _linked(rng: random.Random, dx_codes: list[str], icu: bool) -> tuple[list[str], list[str]]:
    px: list[str] = []
    drugs: list[str] = []
    for dxs, pxs, rxs in _DX_LINKS:
        if any(code in dxs for code in dx_codes):
            px += [code for code in pxs if rng.random() < 0.3]
            drugs += [name for name in rxs if rng.random() < 0.5]
    extra = rng.randint(0, 3 if icu else 1)
    px += [weighted(rng, [(p.code, p.weight) for p in v.PROCEDURES]) for _ in range(extra)]
    px += [code for code in px if code in v.REPEATABLE_PROCEDURES and rng.random() < 0.5]
    drugs += [weighted(rng, [(d.name, d.weight) for d in v.DRUGS]) for _ in range(rng.randint(2, 8))]
    return px, drugs


def _prescriptions(t: Tables, rng: random.Random, adm: Admission, drugs: list[str]) -> None:
    by_name = {d.name: d for d in v.DRUGS}
    for name, start in zip(drugs, distinct_times(rng, adm.admittime, adm.end, len(drugs)), strict=False):
        drug = by_name[name]
        stop = start + timedelta(days=rng.randint(1, 4))
        enddate = stop if adm.dischtime is None or stop < adm.dischtime else adm.dischtime
        t.add("prescriptions", adm.subject_id, adm.hadm_id, start, enddate, name, rng.choice(drug.doses),
              drug.unit, rng.choice(drug.routes))


def measure(rng: random.Random, m: v.Measure, base: float, spread: float) -> float:
    x = min(max(rng.gauss(base, m.sd * spread), m.lo), m.hi)
    return round(x, m.decimals) + 0.0


def _labs(t: Tables, rng: random.Random, adm: Admission) -> None:
    labels = [name for name in v.CORE_LABS if rng.random() < 0.9]
    others = [lab.measure.label for lab in v.LAB_ITEMS if lab.measure.label not in v.CORE_LABS]
    labels += rng.sample(others, rng.randint(2, 6))
    days = max(1, (adm.end - adm.admittime).days)
    for label in labels:
        m = _BY_LABEL_LAB[label].measure
        base = rng.gauss(m.mean, m.sd * 0.7)
        for when in distinct_times(rng, adm.admittime, adm.end, rng.randint(1, min(4, days + 1))):
            value = measure(rng, m, base, 0.4)
            t.add("labevents", adm.subject_id, adm.hadm_id, m.itemid, when, value, m.unit)


def _micro(t: Tables, rng: random.Random, adm: Admission) -> None:
    if rng.random() > 0.35:
        return
    n = rng.randint(1, 4)
    for when in distinct_times(rng, adm.admittime, adm.end, n):
        spec, _, positive = rng.choices(v.SPECIMENS, [w for _, w, _ in v.SPECIMENS])[0]
        org = rng.choice(v.ORGANISMS) if rng.random() < positive else None
        t.add("microbiologyevents", adm.subject_id, adm.hadm_id, when, spec, org)


def icu_events(
    t: Tables, rng: random.Random, adm: Admission, stay: Stay, weight: float, height: float
) -> None:
    end = stay.outtime or adm.end
    hours = (end - stay.intime).total_seconds() / 3600
    arterial = rng.random() < 0.5
    for m in v.CHART_ITEMS:
        every = _chart_every(rng, m.label, arterial)
        if every is None:
            continue
        base = {"admit wt": weight, "daily weight": weight, "admit ht": height}.get(m.label)
        spread = 0.02 if base is not None else 0.5
        base = rng.gauss(m.mean, m.sd * 0.5) if base is None else base
        n, slot = (1, 6.0) if every == 0 else (max(1, int(hours // every)), every)
        for k in range(n):
            lo = stay.intime + timedelta(hours=slot * k)
            for when in distinct_times(rng, lo, min(end, lo + timedelta(hours=slot)), 1):
                t.add("chartevents", adm.subject_id, adm.hadm_id, stay.icustay_id, m.itemid, when,
                      measure(rng, m, base, spread), m.unit)
    _fluids(t, rng, adm, stay, end)


def _chart_every(rng: random.Random, label: str, arterial: bool) -> float | None:
    """Hours between two measurements of a chart item (0: once per stay); None: not charted."""
    if label in ("heart rate", "sao2"):
        return 4.0
    if label.startswith("arterial bp") or label.startswith("nbp"):
        return 6.0 if arterial == label.startswith("arterial") else None
    if label in v.FREQUENT_CHART:
        return 6.0
    chance = {"admit wt": 0.85, "admit ht": 0.6, "daily weight": 0.5, "temperature f": 0.3}.get(label, 0.35)
    if rng.random() > chance:
        return None
    return {"admit wt": 0.0, "admit ht": 0.0, "daily weight": 24.0}.get(label, 8.0)


def _fluids(t: Tables, rng: random.Random, adm: Admission, stay: Stay, end: datetime) -> None:
    days = max(1.0, (end - stay.intime).total_seconds() / 86400)
    items = _pick_distinct(rng, [(i, i.weight) for i in v.INPUT_ITEMS], rng.randint(2, 5))
    for item in items:
        for when in distinct_times(rng, stay.intime, end, rng.randint(1, int(2 + 2 * days))):
            t.add("inputevents_cv", adm.subject_id, adm.hadm_id, stay.icustay_id, when, item.itemid,
                  _volume(rng, item), "ml")
    outs = [v.OUTPUT_ITEMS[0] if rng.random() < 0.8 else v.OUTPUT_ITEMS[1]]
    outs += [o for o in v.OUTPUT_ITEMS[2:] if rng.random() < 0.12]
    for item in outs:
        count = int(4 * days) if item is v.OUTPUT_ITEMS[0] else rng.randint(1, int(2 + 2 * days))
        for when in distinct_times(rng, stay.intime, end, count):
            t.add("outputevents", adm.subject_id, adm.hadm_id, stay.icustay_id, when, item.itemid,
                  _volume(rng, item), "ml")


def _volume(rng: random.Random, item: v.VolumeItem) -> float:
    return round(rng.uniform(item.low, item.high), 1 if item.high <= 100 else 0) + 0.0


def cost_rows(t: Tables, rng: random.Random) -> None:
    """One COST row per billed event (diagnosis, procedure, lab, prescription), priced per item."""
    prices: dict[tuple[str, str], list[float]] = {}
    sources = (("diagnoses_icd", 3, 4, (2.0, 10.0)), ("procedures_icd", 3, 4, (5.0, 60.0)),
               ("labevents", 3, 4, (3.0, 12.0)), ("prescriptions", 5, 3, (1.0, 30.0)))
    for table, item_col, time_col, (lo, hi) in sources:
        for row in list(t.rows.get(table, [])):
            key = (table, str(row[item_col]))
            if key not in prices:
                prices[key] = [round(rng.uniform(lo, hi), 2) for _ in range(rng.choice((1, 1, 2, 3)))]
            t.add("cost", row[1], row[2], table, row[0], row[time_col], rng.choice(prices[key]))
