"""The machinery of the EHR question templates: parameters, time filters and the pandas prelude.

A template holds three renderings of one question: the natural-language phrasings, the SQL that
computes the ground truth on `mimic_iii.sqlite`, and a pandas snippet that recomputes it from the
CSV files for the reference solution. A parameter (`P`) carries its text, SQL and Python form, so
one choice (a patient, a drug, "the first hospital visit", "since 2103") fills all three.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from task_store.pack.ehr_db import REFERENCE_TIME

REF = REFERENCE_TIME.strftime("%Y-%m-%d %H:%M:%S")
REF_SQL = f"'{REF}'"


@dataclass(frozen=True)
class P:
    """A template parameter: how it reads in the question, in the SQL and in the pandas snippet."""

    text: str
    sql: str
    py: str


Params = dict[str, P]


def sql_literal(x: str | int | float) -> str:
    return "'" + x.replace("'", "''") + "'" if isinstance(x, str) else repr(x)


def lit(x: str | int | float, text: str | None = None) -> P:
    return P(str(x) if text is None else text, sql_literal(x), repr(x))


@dataclass
class Ctx:
    """What a sampler needs: the database (with helper scope tables) and the template's own rng."""

    con: sqlite3.Connection
    rng: random.Random

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def pick(self, sql: str, k: int = 40, spread: int | None = None) -> list[tuple[Any, ...]]:
        """k random rows of a query; with `spread`, round-robin over the values of that column."""
        rows = self.rows(sql)
        if spread is None:
            return self.rng.sample(rows, min(k, len(rows)))
        groups: dict[Any, list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault(row[spread], []).append(row)
        pools = [self.rng.sample(groups[key], len(groups[key])) for key in sorted(groups)]
        out: list[tuple[Any, ...]] = []
        while len(out) < k and any(pools):
            out += [pool.pop() for pool in pools if pool]
        return out[:k]

    def phrase(self, *choices: str) -> str:
        return self.rng.choice(choices)


@dataclass(frozen=True)
class Template:
    tid: str
    category: str
    title: str
    phrasings: tuple[str, ...]
    sql: str
    py: str
    sample: Callable[[Ctx], Iterator[Params]]
    max_items: int = 10


_HOSP_TEXT = {
    "first": (" on the first hospital visit", " during the first hospital encounter",
              " in their first hospital visit"),
    "last": (" on the last hospital visit", " during the last hospital encounter",
             " in their last hospital visit"),
    "cur": (" on the current hospital visit", " during this hospital encounter",
            " in the current hospital encounter"),
    "all": ("",),
}
_ICU_TEXT = {
    "first": (" on the first icu visit", " during the first icu stay",
              " in their first intensive care unit stay"),
    "last": (" on the last icu visit", " during the last icu stay",
             " in their last intensive care unit stay"),
    "cur": (" on the current icu visit", " during the current icu stay", " in this intensive care unit stay"),
    "all": ("",),
}
_ORDER_SQL = {"first": "asc", "last": "desc"}


def hosp(c: Ctx, pid: int, kind: str) -> P:
    """The admissions of a patient: all, the first/last discharged one, or the current one."""
    sql = f"select admissions.hadm_id from admissions where admissions.subject_id = {pid}"
    if kind == "cur":
        sql += " and admissions.dischtime is null"
    elif kind != "all":
        direction = _ORDER_SQL[kind]
        sql += f" and admissions.dischtime is not null order by admissions.admittime {direction} limit 1"
    return P(c.phrase(*_HOSP_TEXT[kind]), sql, f"adm({pid}, {kind!r})")


def icu(c: Ctx, pid: int, kind: str) -> P:
    """The ICU stays of a patient: all, the first/last finished one, or the current one."""
    sql = ("select icustays.icustay_id from icustays where icustays.hadm_id in ( select admissions.hadm_id "
           f"from admissions where admissions.subject_id = {pid} )")
    if kind == "cur":
        sql += " and icustays.outtime is null"
    elif kind != "all":
        sql += f" and icustays.outtime is not null order by icustays.intime {_ORDER_SQL[kind]} limit 1"
    return P(c.phrase(*_ICU_TEXT[kind]), sql, f"icu({pid}, {kind!r})")


def options(c: Ctx, had: list[str], pool: list[str], n: int) -> list[str] | None:
    """n choices in random order for a "which of ..." question: between 1 and n - 1 of them from
    `had` (what the patient had), the rest from `pool` outside it; None when that is impossible."""
    had = sorted(set(had))
    others = sorted(set(pool) - set(had))
    if not had or len(others) < n - 1:
        return None
    k = c.rng.randint(1, min(len(had), n - 1))
    chosen = c.rng.sample(had, k) + c.rng.sample(others, n - k)
    c.rng.shuffle(chosen)
    return chosen


def order(kind: str) -> P:
    """first/last: `asc`/`desc` in SQL, `head`/`tail` in pandas."""
    return P(kind, _ORDER_SQL[kind], "head" if kind == "first" else "tail")


def window(c: Ctx, col: str, kinds: tuple[str, ...] = ("all", "since", "in", "ago", "this", "last")) -> P:
    """A time filter on `col`, as an SQL `and ...` suffix and a pandas mask factory `W(...)`."""
    kind = c.rng.choice(kinds)
    year = c.rng.randint(2100, 2105)
    if kind == "since":
        return P(f" since {year}", f" and strftime('%Y',{col}) >= '{year}'", f"W('since', {year})")
    if kind == "in":
        return P(f" in {year}", f" and strftime('%Y',{col}) = '{year}'", f"W('in', {year})")
    if kind == "ago":
        n = c.rng.randint(1, 5)
        years = f"{n} year{'s' if n > 1 else ''}"
        text = c.phrase(f" since {years} ago", f" in the last {years}")
        return P(text, f" and datetime({col}) >= datetime({REF_SQL},'-{n} year')", f"W('ago', {n})")
    if kind in ("this", "last"):
        back, year = (0, 2105) if kind == "this" else (1, 2104)
        sql = f" and datetime({col},'start of year') = datetime({REF_SQL},'start of year','-{back} year')"
        return P(f" {kind} year", sql, f"W('in', {year})")
    return P("", "", "W('all')")


def day(c: Ctx, col: str, date: str) -> P:
    """One calendar day, `date` as YYYY-MM-DD."""
    y, m, d = date.split("-")
    text = c.phrase(f" on {m}/{d}/{y}", f" on {y}-{m}-{d}")
    return P(text, f" and strftime('%Y-%m-%d',{col}) = '{date}'", f"W('day', {date!r})")


def elapsed(unit: str, col: str) -> P:
    """Whole hours, or calendar days, from `col` to the reference time."""
    if unit == "hours":
        return P(unit, f"( strftime('%s',{REF_SQL}) - strftime('%s',{col}) ) / 3600", "'hours'")
    return P(unit, f"cast( julianday(date({REF_SQL})) - julianday(date({col})) as integer )", "'days'")


AGE_GROUPS = (("20s", "between 20 and 29", "20, 29"), ("30s", "between 30 and 39", "30, 39"),
              ("40s", "between 40 and 49", "40, 49"), ("50s", "between 50 and 59", "50, 59"),
              ("60 or above", ">= 60", "60, 999"))


def age_group(c: Ctx) -> P:
    text, sql, py = c.rng.choice(AGE_GROUPS)
    return P(text, sql, py)


PRELUDE = '''import json
import os

import pandas as pd

DATA = os.environ.get("MEDGYM_PACK_DATA", "/data/medgym_ehr")
NOW = pd.Timestamp("@NOW@")
TIMES = ("dob", "dod", "admittime", "dischtime", "intime", "outtime", "charttime", "startdate", "enddate",
         "chargetime")


def T(name):
    df = pd.read_csv(f"{DATA}/{name.upper()}.csv", dtype={"icd9_code": str} if "icd" in name else None)
    for col in TIMES:
        if col in df.columns:
            df[col] = pd.to_datetime(df[col])
    return df


def pick(df, start, end, kind):
    df = df.sort_values(start)
    if kind == "cur":
        return df[df[end].isna()]
    if kind == "all":
        return df
    df = df[df[end].notna()]
    return df.head(1) if kind == "first" else df.tail(1)


def adm(pid, kind="all"):
    a = T("admissions")
    return list(pick(a[a.subject_id == pid], "admittime", "dischtime", kind).hadm_id)


def icu(pid, kind="all"):
    s = T("icustays")
    return list(pick(s[s.hadm_id.isin(adm(pid))], "intime", "outtime", kind).icustay_id)


def W(kind, n=0):
    def keep(t):
        if kind == "since":
            return t.dt.year >= n
        if kind == "in":
            return t.dt.year == n
        if kind == "ago":
            return t >= NOW - pd.DateOffset(years=n)
        if kind == "day":
            return t.dt.strftime("%Y-%m-%d") == n
        return pd.Series(True, index=t.index)
    return keep


def since(t, unit):
    if unit == "hours":
        return int((NOW - t).total_seconds()) // 3600
    return (NOW.normalize() - t.normalize()).days


def item(x):
    if x is None or x is pd.NaT:
        return "None"
    if isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d %H:%M:%S")
    x = x.item() if hasattr(x, "item") else x
    if x != x:
        return "None"
    return repr(x) if isinstance(x, float) else str(x)

'''


def solution(py: str) -> str:
    """A whole reference solution: the prelude, the snippet (which sets `ans`), the JSON line."""
    prelude = PRELUDE.replace("@NOW@", REF)
    return f"{prelude}\n{py.strip()}\nprint(json.dumps([item(x) for x in ans]))\n"
