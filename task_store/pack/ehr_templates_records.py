"""Question templates on patients, admissions, diagnoses and procedures, and shared SQL fragments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from task_store.pack.ehr_templates import (
    AGE_GROUPS,
    Ctx,
    P,
    Params,
    Template,
    age_group,
    hosp,
    lit,
    options,
    order,
    window,
)

DX_CODE = ("( select d_icd_diagnoses.icd9_code from d_icd_diagnoses where d_icd_diagnoses.short_title "
           "= {dx} )")
PX_CODE = ("( select d_icd_procedures.icd9_code from d_icd_procedures where d_icd_procedures.short_title "
           "= {px} )")
PID_ADMS = "( select admissions.hadm_id from admissions where admissions.subject_id = {pid} )"
DX_PY = ("dd = T('d_icd_diagnoses')\nd = T('diagnoses_icd')\n"
         "d = d[d.icd9_code.isin(dd[dd.short_title == {dx}].icd9_code)]\n")
PX_PY = ("dp = T('d_icd_procedures')\np = T('procedures_icd')\n"
         "p = p[p.icd9_code.isin(dp[dp.short_title == {px}].icd9_code)]\n")
TOP_N = (P("three", "3", "3"), P("four", "4", "4"), P("five", "5", "5"))
SCOPED = "select distinct s.subject_id, s.kind{cols} from scope_hosp s{joins} order by 1, 2"
ONE_VISIT = " where s.kind != 'all'"


def scoped(c: Ctx, cols: str = "", joins: str = "", k: int = 40) -> list[tuple[Any, ...]]:
    """(subject_id, kind, ...) rows for admissions in each scope, spread over the scope kinds."""
    return c.pick(SCOPED.format(cols=cols, joins=joins), k, spread=1)


def _patients(c: Ctx) -> Iterator[Params]:
    for (pid,) in c.pick("select subject_id from patients order by 1"):
        yield {"pid": lit(pid)}


def _age(c: Ctx) -> Iterator[Params]:
    for pid, kind in scoped(c, joins=ONE_VISIT):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind))}


_FIELDS = (("name of insurance", "insurance"), ("marital status", "marital_status"),
           ("ethnicity", "ethnicity"), ("language", "language"))


def _admission_field(c: Ctx) -> Iterator[Params]:
    for pid, kind in scoped(c, joins=ONE_VISIT):
        text, col = c.rng.choice(_FIELDS)
        field = P(text, f"admissions.{col}", repr(col))
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "field": field}


#: wider and older groups too: the current patients are few, and a count of 0 or 1 is not asked
_CURRENT_GROUPS = (*AGE_GROUPS, ("70s", "between 70 and 79", "70, 79"), ("80 or above", ">= 80", "80, 999"),
                   ("40 or above", ">= 40", "40, 999"), ("50 or above", ">= 50", "50, 999"))


def _current_count(c: Ctx) -> Iterator[Params]:
    combos = [(g, s) for g in _CURRENT_GROUPS for s in ("", "m", "f")]
    for (text, sql, py), sex in c.rng.sample(combos, len(combos)):
        gender = P("", "", "pass") if not sex else P(
            " male" if sex == "m" else " female",
            " and admissions.subject_id in ( select patients.subject_id from patients where "
            f"patients.gender = '{sex}' )",
            f"p = T('patients')\na = a[a.subject_id.isin(p[p.gender == '{sex}'].subject_id)]")
        yield {"grp": P(text, sql, py), "sex": gender}


def _visits(c: Ctx) -> Iterator[Params]:
    sql = "select subject_id, min(count(*), 4) from admissions group by subject_id order by 1"
    for pid, _ in c.pick(sql, 120, spread=1):
        yield {"pid": lit(pid), "win": window(c, "admissions.admittime")}


def _stay_length(c: Ctx) -> Iterator[Params]:
    sql = "select subject_id, kind from scope_hosp where kind in ('first', 'last') order by 1, 2"
    for pid, kind in c.pick(sql):
        yield {"pid": lit(pid), "fl": order(str(kind))}


def _admit_location(c: Ctx) -> Iterator[Params]:
    sql = "select distinct subject_id, admission_location from admissions order by 1, 2"
    for pid, loc in c.pick(sql, spread=1):
        yield {"pid": lit(pid), "loc": lit(loc), "fl": order(c.rng.choice(("first", "last"))),
               "win": window(c, "admissions.admittime", ("all", "all", "since", "ago"))}


def _admission_type(c: Ctx) -> Iterator[Params]:
    for _ in range(40):
        kind = c.rng.choice(("emergency", "elective", "urgent"))
        win = window(c, "admissions.admittime", ("since", "in", "ago", "this", "last"))
        yield {"atype": lit(kind), "win": win}


_DX_TITLES = ("select distinct d.short_title from diagnoses_icd x join d_icd_diagnoses d using(icd9_code) "
              "order by 1")


def _dx_patients(c: Ctx) -> Iterator[Params]:
    for (dx,) in c.pick(_DX_TITLES):
        yield {"dx": lit(dx), "win": window(c, "diagnoses_icd.charttime")}


def _dx_which_of(c: Ctx) -> Iterator[Params]:
    # titles with a comma would make the list of choices ambiguous
    titles = [t for (t,) in c.rows(_DX_TITLES) if "," not in t]
    for pid, kind in scoped(c, joins=" join diagnoses_icd x using(hadm_id)", k=60):
        when = hosp(c, pid, str(kind))
        had = c.rows("select distinct d.short_title from diagnoses_icd x join d_icd_diagnoses d "
                     f"using(icd9_code) where x.hadm_id in ( {when.sql} )")
        choices = options(c, [t for (t,) in had if "," not in t], titles, 4)
        if choices:
            yield {"pid": lit(pid), "when": when, **{f"o{i}": lit(t) for i, t in enumerate(choices, 1)}}


def _abbreviation(c: Ctx) -> Iterator[Params]:
    rows = c.rows("select short_title from d_icd_diagnoses union "
                  "select short_title from d_icd_procedures order by 1")
    for (title,) in c.rng.sample(rows, 40):
        yield {"abbr": lit(title)}


def _top_by_age(col: str) -> Callable[[Ctx], Iterator[Params]]:
    def sample(c: Ctx) -> Iterator[Params]:
        for _ in range(40):
            win = window(c, col, ("all", "since", "ago"))
            yield {"n": c.rng.choice(TOP_N), "grp": age_group(c), "win": win}
    return sample


def _px_times(c: Ctx) -> Iterator[Params]:
    sql = ("select x.subject_id, d.short_title, min(count(*), 3) from procedures_icd x join "
           "d_icd_procedures d "
           "using(icd9_code) group by 1, 2 order by 1, 2")
    for pid, px, _ in c.pick(sql, 100, spread=2):
        win = window(c, "procedures_icd.charttime", ("all", "all", "since"))
        yield {"pid": lit(pid), "px": lit(px), "win": win}


def _px_after_dx(c: Ctx) -> Iterator[Params]:
    sql = ("select d.short_title, p.short_title from diagnoses_icd x join procedures_icd y using(hadm_id) "
           "join d_icd_diagnoses d on d.icd9_code = x.icd9_code join d_icd_procedures p on p.icd9_code = "
           "y.icd9_code where x.charttime < y.charttime group by 1, 2 having count(distinct x.hadm_id) >= 3 "
           "order by 1, 2")
    for dx, px in c.pick(sql):
        win = window(c, "diagnoses_icd.charttime", ("all", "all", "since"))
        win2 = P("", win.sql.replace("diagnoses_icd.", "procedures_icd."), win.py)
        yield {"dx": lit(dx), "px": lit(px), "win": win, "win2": win2}


def _px_time(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct x.subject_id, d.short_title from procedures_icd x join d_icd_procedures d "
           "using(icd9_code) order by 1, 2")
    for pid, px in c.pick(sql):
        yield {"pid": lit(pid), "px": lit(px), "fl": order(c.rng.choice(("first", "last"))),
               "win": window(c, "procedures_icd.charttime", ("all", "all", "since", "ago"))}


RECORD_TEMPLATES: tuple[Template, ...] = (
    Template(
        "demo_gender", "demographics", "Gender of a patient",
        ("what is the gender of patient {pid}?", "what is patient {pid}'s sex?",
         "tell me the gender of patient {pid}."),
        "select patients.gender from patients where patients.subject_id = {pid}",
        "p = T('patients')\nans = list(p[p.subject_id == {pid}].gender)",
        _patients,
    ),
    Template(
        "demo_age", "demographics", "Age of a patient at a hospital visit",
        ("what is the age of patient {pid}{when}?", "how old was patient {pid}{when}?",
         "what was patient {pid}'s age{when}?"),
        "select admissions.age from admissions where admissions.hadm_id in ( {when} )",
        "a = T('admissions')\nans = list(a[a.hadm_id.isin({when})].age)",
        _age,
    ),
    Template(
        "demo_admission_field", "demographics",
        "Insurance, marital status, ethnicity or language of a patient",
        ("what is the {field} of patient {pid}{when}?", "tell me the {field} of patient {pid}{when}.",
         "what was patient {pid}'s {field}{when}?"),
        "select {field} from admissions where admissions.hadm_id in ( {when} )",
        "a = T('admissions')\nans = list(a[a.hadm_id.isin({when})][{field}])",
        _admission_field,
    ),
    Template(
        "demo_current_count", "demographics", "Number of current patients in an age group",
        ("count the number of current{sex} patients aged {grp}.",
         "how many{sex} patients aged {grp} are currently in the hospital?",
         "how many current{sex} patients are aged {grp}?"),
        "select count( distinct admissions.subject_id ) from admissions where admissions.dischtime is null "
        "and admissions.age {grp}{sex}",
        "a = T('admissions')\na = a[a.dischtime.isna() & a.age.between({grp})]\n{sex}\n"
        "ans = [a.subject_id.nunique()]",
        _current_count,
    ),
    Template(
        "adm_count_visits", "admissions", "Number of hospital visits of a patient",
        ("count the number of hospital visits of patient {pid}{win}.",
         "how many times did patient {pid} visit the hospital{win}?",
         "how many hospital admissions did patient {pid} have{win}?"),
        "select count( distinct admissions.hadm_id ) from admissions where admissions.subject_id = "
        "{pid}{win}",
        "a = T('admissions')\na = a[a.subject_id == {pid}]\n"
        "ans = [a[{win}(a.admittime)].hadm_id.nunique()]",
        _visits,
    ),
    Template(
        "adm_length_of_stay", "admissions", "Length of a hospital stay",
        ("what was the length of the {fl} hospital stay of patient {pid}?",
         "how many days did patient {pid} stay in the hospital on the {fl} visit?",
         "calculate the length of stay of the {fl} hospital visit of patient {pid}."),
        "select cast( julianday(date(admissions.dischtime)) - julianday(date(admissions.admittime)) as "
        "integer ) from admissions where admissions.subject_id = {pid} and admissions.dischtime is not null "
        "order by admissions.admittime {fl} limit 1",
        "a = T('admissions')\n"
        "a = a[(a.subject_id == {pid}) & a.dischtime.notna()].sort_values('admittime').{fl}(1)\n"
        "ans = [(r.dischtime.normalize() - r.admittime.normalize()).days for r in a.itertuples()]",
        _stay_length,
    ),
    Template(
        "adm_time_by_location", "admissions", "Admission time of a patient via an admission location",
        ("when was the {fl} hospital admission time that patient {pid} was admitted via {loc}{win}?",
         "when did patient {pid} get admitted to the hospital via {loc} for the {fl} time{win}?",
         "tell me the {fl} time patient {pid} was admitted via {loc}{win}."),
        "select admissions.admittime from admissions where admissions.subject_id = {pid} and "
        "admissions.admission_location = {loc}{win} order by admissions.admittime {fl} limit 1",
        "a = T('admissions')\na = a[(a.subject_id == {pid}) & (a.admission_location == {loc})]\n"
        "ans = list(a[{win}(a.admittime)].sort_values('admittime').admittime.{fl}(1))",
        _admit_location,
    ),
    Template(
        "adm_patients_by_type", "admissions", "Number of patients with an admission type",
        ("count the number of patients who had an {atype} hospital admission{win}.",
         "how many patients were admitted to the hospital as an {atype} admission{win}?"),
        "select count( distinct admissions.subject_id ) from admissions where admissions.admission_type = "
        "{atype}{win}",
        "a = T('admissions')\na = a[a.admission_type == {atype}]\n"
        "ans = [a[{win}(a.admittime)].subject_id.nunique()]",
        _admission_type,
    ),
    Template(
        "dx_patient_count", "diagnoses", "Number of patients with a diagnosis",
        ("count the number of patients who were diagnosed with {dx}{win}.",
         "how many patients were diagnosed with {dx}{win}?",
         "how many people received a diagnosis of {dx}{win}?"),
        "select count( distinct admissions.subject_id ) from admissions where admissions.hadm_id in ( select "
        "diagnoses_icd.hadm_id from diagnoses_icd where diagnoses_icd.icd9_code = " + DX_CODE + "{win} )",
        DX_PY + "d = d[{win}(d.charttime)]\na = T('admissions')\n"
        "ans = [a[a.hadm_id.isin(d.hadm_id)].subject_id.nunique()]",
        _dx_patients,
    ),
    Template(
        "dx_which_of", "diagnoses", "Which of several diagnoses a patient received",
        ("which of these diagnoses has patient {pid} received{when}: {o1}, {o2}, {o3}, {o4}?",
         "which of the following was patient {pid} diagnosed with{when}: {o1}, {o2}, {o3} or {o4}?",
         "among {o1}, {o2}, {o3} and {o4}, which diagnoses did patient {pid} receive{when}?"),
        "select distinct d_icd_diagnoses.short_title from d_icd_diagnoses where d_icd_diagnoses.short_title "
        "in ( {o1}, {o2}, {o3}, {o4} ) and d_icd_diagnoses.icd9_code in ( select diagnoses_icd.icd9_code "
        "from diagnoses_icd where diagnoses_icd.hadm_id in ( {when} ) )",
        "dd = T('d_icd_diagnoses')\nd = T('diagnoses_icd')\nd = d[d.hadm_id.isin({when})]\n"
        "dd = dd[dd.short_title.isin([{o1}, {o2}, {o3}, {o4}])]\n"
        "ans = sorted(set(dd[dd.icd9_code.isin(d.icd9_code)].short_title))",
        _dx_which_of, max_items=3,
    ),
    Template(
        "dx_abbreviation", "diagnoses", "Full title of an abbreviated diagnosis or procedure",
        ("what does {abbr} stand for?", "{abbr} what does it stand for?", "what is the full name of {abbr}?",
         "tell me what {abbr} means."),
        "select d_icd_diagnoses.long_title from d_icd_diagnoses where d_icd_diagnoses.short_title = {abbr} "
        "union select d_icd_procedures.long_title from d_icd_procedures where "
        "d_icd_procedures.short_title = {abbr}",
        "a = T('d_icd_diagnoses')\nb = T('d_icd_procedures')\n"
        "ans = list(a[a.short_title == {abbr}].long_title) + list(b[b.short_title == {abbr}].long_title)",
        _abbreviation,
    ),
    Template(
        "dx_top_by_age", "diagnoses", "Most frequent diagnoses in an age group",
        ("what are the top {n} frequent diagnoses of patients aged {grp}{win}?",
         "what were the top {n} most common diagnoses among patients aged {grp}{win}?",
         "list the {n} most frequent diagnoses for patients aged {grp}{win}."),
        "select d_icd_diagnoses.short_title from d_icd_diagnoses where d_icd_diagnoses.icd9_code in ( select "
        "t1.icd9_code from ( select diagnoses_icd.icd9_code, dense_rank() over ( order by count(*) desc ) as "
        "c1 from diagnoses_icd where diagnoses_icd.hadm_id in ( select admissions.hadm_id from admissions "
        "where admissions.age {grp} ){win} group by diagnoses_icd.icd9_code ) as t1 where t1.c1 <= {n} )",
        "a = T('admissions')\nd = T('diagnoses_icd')\n"
        "d = d[d.hadm_id.isin(a[a.age.between({grp})].hadm_id)]\n"
        "c = d[{win}(d.charttime)].icd9_code.value_counts()\n"
        "top = c[c.rank(method='dense', ascending=False) <= {n}].index\ndd = T('d_icd_diagnoses')\n"
        "ans = list(dd[dd.icd9_code.isin(top)].short_title)",
        _top_by_age("diagnoses_icd.charttime"), max_items=7,
    ),
    Template(
        "px_count_times", "procedures", "Number of times a patient had a procedure",
        ("count the number of times that patient {pid} received a {px} procedure{win}.",
         "how many times did patient {pid} undergo {px}{win}?",
         "how many {px} procedures did patient {pid} have{win}?"),
        "select count(*) from procedures_icd where procedures_icd.icd9_code = " + PX_CODE
        + " and procedures_icd.hadm_id in " + PID_ADMS + "{win}",
        PX_PY + "p = p[p.hadm_id.isin(adm({pid}))]\nans = [len(p[{win}(p.charttime)])]",
        _px_times,
    ),
    Template(
        "px_after_dx_patients", "procedures", "Patients with a procedure after a diagnosis in the same visit",
        ("count the number of patients who received a {px} procedure after having been diagnosed with {dx} "
         "within the same hospital visit{win}.",
         "how many patients underwent {px} after being diagnosed with {dx} during the same hospital "
         "encounter{win}?"),
        "select count( distinct t1.subject_id ) from ( select admissions.subject_id, "
        "diagnoses_icd.charttime, admissions.hadm_id from diagnoses_icd join admissions on "
        "diagnoses_icd.hadm_id = admissions.hadm_id where diagnoses_icd.icd9_code = " + DX_CODE
        + "{win} ) as t1 join ( select admissions.subject_id, procedures_icd.charttime, admissions.hadm_id "
        "from procedures_icd join admissions on procedures_icd.hadm_id = admissions.hadm_id where "
        "procedures_icd.icd9_code = " + PX_CODE + "{win2} ) as t2 on t1.subject_id = t2.subject_id "
        "where t1.charttime < t2.charttime and t1.hadm_id = t2.hadm_id",
        DX_PY + "d = d[{win}(d.charttime)]\n" + PX_PY + "p = p[{win2}(p.charttime)]\n"
        "m = d.merge(p, on='hadm_id')\nm = m[m.charttime_x < m.charttime_y]\na = T('admissions')\n"
        "ans = [a[a.hadm_id.isin(m.hadm_id)].subject_id.nunique()]",
        _px_after_dx,
    ),
    Template(
        "px_time", "procedures", "Time of a patient's first or last procedure",
        ("when was the {fl} time that patient {pid} received a {px} procedure{win}?",
         "when did patient {pid} undergo {px} for the {fl} time{win}?",
         "tell me the {fl} time patient {pid} had a {px} procedure{win}."),
        "select procedures_icd.charttime from procedures_icd where procedures_icd.icd9_code = " + PX_CODE
        + " and procedures_icd.hadm_id in " + PID_ADMS
        + "{win} order by procedures_icd.charttime {fl} limit 1",
        PX_PY + "p = p[p.hadm_id.isin(adm({pid}))]\n"
        "ans = list(p[{win}(p.charttime)].sort_values('charttime').charttime.{fl}(1))",
        _px_time,
    ),
)
