"""A deterministic synthetic EHR in the MIMIC-III table shapes used by EHRSQL (`medgym_ehr`).

Naming convention (as EHRSQL's MIMIC-III release): one CSV per table named after the table in
upper case (`PATIENTS.csv`, `LABEVENTS.csv`, ...) with lower-case column headers, and the same
content in `mimic_iii.sqlite` with lower-case table and column names (`labevents.valuenum`).
Values are lower-case strings as in EHRSQL; times are `YYYY-MM-DD HH:MM:SS` in shifted years
2100-2105; "now" is `REFERENCE_TIME`, and a current admission has an empty `dischtime`.

The same seed gives byte-identical files: one `random.Random(seed)` drives everything, in a
fixed order, and nothing depends on set order or the clock.
"""

from __future__ import annotations

import csv
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from task_store.pack import ehr_vocab as v
from task_store.pack.ehr_db_events import (
    Admission,
    Stay,
    Tables,
    Value,
    admission_events,
    cost_rows,
    icu_events,
    weighted,
)

REFERENCE_TIME = datetime(2105, 12, 31, 23, 59, 0)
SQLITE_NAME = "mimic_iii.sqlite"
_START = datetime(2100, 1, 1)
_INTEGER = frozenset((
    "row_id", "subject_id", "hadm_id", "icustay_id", "itemid", "first_wardid", "last_wardid", "wardid", "age",
    "event_id",
))
_REAL = frozenset(("dose_val_rx", "valuenum", "amount", "value", "cost"))
_EVENT = "row_id subject_id hadm_id"

#: table -> column names, in file order (types: `column_type`)
SCHEMA: dict[str, tuple[str, ...]] = {name: tuple(cols.split()) for name, cols in (
    ("patients", "row_id subject_id gender dob dod"),
    ("admissions", f"{_EVENT} admittime dischtime admission_type admission_location discharge_location "
                   "insurance language marital_status ethnicity age"),
    ("icustays", f"{_EVENT} icustay_id first_careunit last_careunit first_wardid last_wardid intime outtime"),
    ("transfers", f"{_EVENT} icustay_id eventtype careunit wardid intime outtime"),
    ("diagnoses_icd", f"{_EVENT} icd9_code charttime"),
    ("d_icd_diagnoses", "row_id icd9_code short_title long_title"),
    ("procedures_icd", f"{_EVENT} icd9_code charttime"),
    ("d_icd_procedures", "row_id icd9_code short_title long_title"),
    ("prescriptions", f"{_EVENT} startdate enddate drug dose_val_rx dose_unit_rx route"),
    ("labevents", f"{_EVENT} itemid charttime valuenum valueuom"),
    ("d_labitems", "row_id itemid label fluid category"),
    ("chartevents", f"{_EVENT} icustay_id itemid charttime valuenum valueuom"),
    ("d_items", "row_id itemid label linksto unitname"),
    ("inputevents_cv", f"{_EVENT} icustay_id charttime itemid amount amountuom"),
    ("outputevents", f"{_EVENT} icustay_id charttime itemid value valueuom"),
    ("microbiologyevents", f"{_EVENT} charttime spec_type_desc org_name"),
    ("cost", f"{_EVENT} event_type event_id chargetime cost"),
)}


def column_type(column: str) -> str:
    """The SQLite type of a column: integer ids and counts, real measurements, text otherwise."""
    return "integer" if column in _INTEGER else "real" if column in _REAL else "text"


def build_ehr_database(seed: int, out_dir: Path, n_patients: int = 2000) -> None:
    """Write `<TABLE>.csv` for every table in `SCHEMA` and `mimic_iii.sqlite` into `out_dir`."""
    rng = random.Random(seed)
    t = Tables()
    _dictionaries(t)
    ids = _Ids(rng)
    for subject_id in sorted(rng.sample(range(100, 100_000), n_patients)):
        _patient(t, rng, ids, subject_id)
    cost_rows(t, rng)
    out_dir.mkdir(parents=True, exist_ok=True)
    stored = {table: _stored_rows(t.rows.get(table, [])) for table in SCHEMA}
    for table, rows in stored.items():
        _write_csv(out_dir / f"{table.upper()}.csv", table, rows)
    _write_sqlite(out_dir / SQLITE_NAME, stored)


class _Ids:
    """Unique random ids for admissions (1xxxxx) and ICU stays (2xxxxx)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[int] = set()

    def new(self, lo: int) -> int:
        while True:
            candidate = self._rng.randint(lo, lo + 99_999)
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _age(dob: datetime, at: datetime) -> int:
    return at.year - dob.year - ((at.month, at.day) < (dob.month, dob.day))


def _plan_stays(rng: random.Random) -> list[tuple[datetime, datetime | None]]:
    """(admittime, dischtime) of a patient's admissions; dischtime None for a current admission."""
    plan: list[tuple[datetime, datetime | None]] = []
    start = _minute(_START + timedelta(days=rng.uniform(0, 2100)))
    for _ in range(weighted(rng, ((1, 68), (2, 19), (3, 9), (4, 4)))):
        stop = _minute(start + timedelta(days=min(rng.lognormvariate(1.3, 0.6), 30.0) + 0.1))
        if stop >= REFERENCE_TIME - timedelta(days=30) and plan:
            break
        plan.append((start, stop))
        start = _minute(stop + timedelta(days=rng.uniform(15, 700)))
    if rng.random() < 0.05:
        now_in = _minute(REFERENCE_TIME - timedelta(days=rng.uniform(0.3, 9.0)))
        plan = [(a, d) for a, d in plan if d is not None and d < now_in - timedelta(days=2)]
        plan.append((now_in, None))
    return plan


def _patient(t: Tables, rng: random.Random, ids: _Ids, subject_id: int) -> None:
    plan = _plan_stays(rng)
    age0 = min(89, int(rng.triangular(18, 92, 68)))
    dob = datetime(plan[0][0].year - age0 - 1, 1, 1) + timedelta(days=rng.randint(0, 364))
    gender = weighted(rng, (("m", 56), ("f", 44)))
    profile = [weighted(rng, choices) for choices in (v.LANGUAGES, v.MARITAL_STATUSES, v.ETHNICITIES)]
    elderly = _age(dob, plan[0][0]) >= 65 and rng.random() < 0.9
    insurance = "medicare" if elderly else weighted(rng, v.INSURANCES)
    death = rng.random()
    last_disch = plan[-1][1]
    dod: datetime | None = None
    if last_disch is not None and death < 0.09:
        dod = datetime(last_disch.year, last_disch.month, last_disch.day)
    elif last_disch is not None and death < 0.16:
        later = last_disch + timedelta(days=rng.uniform(10, 2000))
        dod = datetime(later.year, later.month, later.day) if later < REFERENCE_TIME else None
    t.add("patients", subject_id, gender, dob, dod)
    weight, height = rng.gauss(80, 17), rng.gauss(176 if gender == "m" else 163, 8)
    for k, (admit, disch) in enumerate(plan):
        died_here = dod is not None and k == len(plan) - 1 and death < 0.09
        adm_type = weighted(rng, v.ADMISSION_TYPES)
        er = adm_type == "emergency" and rng.random() < 0.65
        location = "emergency room admit" if er else weighted(rng, v.ADMISSION_LOCATIONS)
        discharge = weighted(rng, v.DISCHARGE_LOCATIONS) if disch is not None else None
        discharge = "dead/expired" if died_here else discharge
        hadm_id = ids.new(100_000)
        t.add("admissions", subject_id, hadm_id, admit, disch, adm_type, location, discharge, insurance,
              profile[0] or None, profile[1] or None, profile[2], _age(dob, admit))
        end = disch or REFERENCE_TIME - timedelta(minutes=1)
        stays = _icu_stays(rng, ids, admit, end, current=disch is None, emergency=adm_type == "emergency")
        adm = Admission(subject_id, hadm_id, admit, disch, end, tuple(stays))
        _icu_and_transfers(t, rng, adm)
        admission_events(t, rng, adm)
        for stay in adm.stays:
            icu_events(t, rng, adm, stay, round(weight + rng.gauss(0, 2), 1), round(height, 0))


def _icu_stays(
    rng: random.Random, ids: _Ids, admit: datetime, end: datetime, current: bool, emergency: bool
) -> list[Stay]:
    if rng.random() > (0.65 if emergency else 0.45):
        return []
    span = end - admit
    n = 2 if span > timedelta(days=4) and rng.random() < 0.15 else 1
    cursor = _minute(admit + min(timedelta(hours=24), span * 0.3) * rng.random() + timedelta(minutes=5))
    stays: list[Stay] = []
    for k in range(n):
        last = k == n - 1
        room = (end - cursor) * (0.8 if last else 0.4)
        out: datetime | None = _minute(cursor + min(room, timedelta(days=7)) * rng.uniform(0.3, 1.0))
        if current and last and rng.random() < 0.6:
            out = None
        stays.append(Stay(ids.new(200_000), cursor, out))
        if out is None:
            break
        cursor = _minute(out + (end - out) * rng.uniform(0.1, 0.5))
    return stays


def _icu_and_transfers(t: Tables, rng: random.Random, adm: Admission) -> None:
    segments: list[tuple[int | None, str | None, int, datetime, datetime | None]] = []
    cursor: datetime | None = adm.admittime
    for stay in adm.stays:
        assert cursor is not None
        if stay.intime - cursor >= timedelta(minutes=30):
            segments.append((None, None, rng.choice(v.GENERAL_WARDS), cursor, stay.intime))
        units = list(v.CAREUNITS)
        first = weighted(rng, [(u, w) for u, w in zip(units, (40, 16, 16, 14, 14), strict=True)])
        last = rng.choice([u for u in units if u != first]) if rng.random() < 0.1 else first
        wards = (rng.choice(v.CAREUNITS[first]), rng.choice(v.CAREUNITS[last]))
        if last == first:
            segments.append((stay.icustay_id, first, wards[0], stay.intime, stay.outtime))
        else:
            mid = _minute(stay.intime + ((stay.outtime or adm.end) - stay.intime) / 2)
            segments.append((stay.icustay_id, first, wards[0], stay.intime, mid))
            segments.append((stay.icustay_id, last, wards[1], mid, stay.outtime))
        t.add("icustays", adm.subject_id, adm.hadm_id, stay.icustay_id, first, last, wards[0], wards[1],
              stay.intime, stay.outtime)
        cursor = stay.outtime
    if cursor is not None and (adm.dischtime is None or adm.dischtime - cursor >= timedelta(minutes=30)):
        segments.append((None, None, rng.choice(v.GENERAL_WARDS), cursor, adm.dischtime))
    for k, (stay_id, unit, ward, start, stop) in enumerate(segments):
        event = "admit" if k == 0 else "transfer"
        t.add("transfers", adm.subject_id, adm.hadm_id, stay_id, event, unit, ward, start, stop)
    if adm.dischtime is not None:
        t.add("transfers", adm.subject_id, adm.hadm_id, None, "discharge", None, None, adm.dischtime, None)


def _dictionaries(t: Tables) -> None:
    for d in sorted(v.DIAGNOSES):
        t.add("d_icd_diagnoses", d.code, d.short_title, d.long_title)
    for p in sorted(v.PROCEDURES):
        t.add("d_icd_procedures", p.code, p.short_title, p.long_title)
    for lab in sorted(v.LAB_ITEMS, key=lambda lab: lab.measure.itemid):
        t.add("d_labitems", lab.measure.itemid, lab.measure.label, lab.fluid, lab.category)
    items = [(m.itemid, m.label, "chartevents", m.unit) for m in v.CHART_ITEMS]
    items += [(i.itemid, i.label, "inputevents_cv", "ml") for i in v.INPUT_ITEMS]
    items += [(o.itemid, o.label, "outputevents", "ml") for o in v.OUTPUT_ITEMS]
    for item in sorted(items):
        t.add("d_items", *item)


def _stored_rows(rows: list[tuple[Value, ...]]) -> list[tuple[int | float | str | None, ...]]:
    """The rows as both files store them: times as `YYYY-MM-DD HH:MM:SS` text, the rest as it is (the CSV
    writer then spells None as an empty cell and a float by its repr)."""
    fmt = "%Y-%m-%d %H:%M:%S"
    return [tuple(x.strftime(fmt) if isinstance(x, datetime) else x for x in row) for row in rows]


def _write_csv(path: Path, table: str, rows: list[tuple[int | float | str | None, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(SCHEMA[table])
        writer.writerows(rows)


def indexed_copy(db_path: Path) -> sqlite3.Connection:
    """An in-memory copy of a built database with an index on each id column (the pack builders' lookups
    per patient, admission or item; the shipped file stays as written)."""
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    con = sqlite3.connect(":memory:")
    source.backup(con)
    source.close()
    for table, cols in SCHEMA.items():
        for col in ("subject_id", "hadm_id", "icustay_id", "itemid"):
            if col in cols:
                con.execute(f"create index ix_{table}_{col} on {table} ({col})")
    return con


def _write_sqlite(path: Path, stored: dict[str, list[tuple[int | float | str | None, ...]]]) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        for table, columns in SCHEMA.items():
            con.execute(f"create table {table} ({', '.join(f'{c} {column_type(c)}' for c in columns)})")
            marks = ", ".join("?" for _ in columns)
            con.executemany(f"insert into {table} values ({marks})", stored[table])
        con.commit()
    finally:
        con.close()
