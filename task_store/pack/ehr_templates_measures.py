"""Question templates on lab values, ICU stays and transfers, elapsed times, vitals and fluids."""

from __future__ import annotations

from collections.abc import Iterator

from task_store.pack.ehr_templates import (
    Ctx,
    P,
    Params,
    Template,
    day,
    elapsed,
    hosp,
    icu,
    lit,
    order,
    window,
)
from task_store.pack.ehr_templates_orders import AGG
from task_store.pack.ehr_templates_records import PID_ADMS, TOP_N, scoped

LAB_IDS = "( select d_labitems.itemid from d_labitems where d_labitems.label = {lab} )"
LAB_PY = "di = T('d_labitems')\nl = T('labevents')\nl = l[l.itemid.isin(di[di.label == {lab}].itemid)]\n"


def _item_ids(table: str, name: str) -> str:
    return (f"( select d_items.itemid from d_items where d_items.label = {{{name}}} "
            f"and d_items.linksto = '{table}' )")


def _item_py(var: str, table: str, name: str) -> str:
    keep = f"(it.label == {{{name}}}) & (it.linksto == '{table}')"
    return f"it = T('d_items')\n{var} = T('{table}')\n{var} = {var}[{var}.itemid.isin(it[{keep}].itemid)]\n"


CHART_IDS = _item_ids("chartevents", "vital")
CHART_PY = _item_py("c", "chartevents", "vital")
PID_STAYS = "( select icustays.icustay_id from icustays where icustays.hadm_id in " + PID_ADMS + " )"
_LAB_JOIN = " join labevents l using(hadm_id) join d_labitems d using(itemid)"
_CHART_SCOPED = ("select s.subject_id, s.kind, d.label, min(c.valuenum), max(c.valuenum), count(*) "
                 "from scope_icu s join chartevents c using(icustay_id) join d_items d using(itemid) "
                 "group by 1, 2, 3 order by 1, 2, 3")
#: (text, SQL order clause, Python index) of the n-th value
_NTH = {"first": ("asc limit 1", "0"), "second": ("asc limit 1 offset 1", "1"),
        "last": ("desc limit 1", "-1"), "second to last": ("desc limit 1 offset 1", "-2")}
_PAIRS = (("second", "first"), ("last", "second to last"), ("last", "first"))


def _nth(name: str) -> P:
    sql, py = _NTH[name]
    return P(name, sql, py)


def _first_last(c: Ctx) -> P:
    return order(c.rng.choice(("first", "last")))


def _lab_value(c: Ctx) -> Iterator[Params]:
    for pid, kind, lab in scoped(c, ", d.label", _LAB_JOIN):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "lab": lit(lab), "fl": _first_last(c)}


def _lab_change(c: Ctx) -> Iterator[Params]:
    sql = ("select s.subject_id, s.kind, d.label from scope_hosp s" + _LAB_JOIN
           + " group by 1, 2, 3 having count(*) >= 2 order by 1, 2, 3")
    for pid, kind, lab in c.pick(sql, spread=1):
        a, b = c.rng.choice(_PAIRS)
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "lab": lit(lab), "a": _nth(a), "b": _nth(b)}


def _lab_agg(c: Ctx) -> Iterator[Params]:
    for pid, kind, lab in scoped(c, ", d.label", _LAB_JOIN):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "lab": lit(lab), "agg": c.rng.choice(AGG)}


def _icu_length(c: Ctx) -> Iterator[Params]:
    sql = "select subject_id, kind from scope_icu where kind in ('first', 'last') order by 1, 2"
    for pid, kind in c.pick(sql, 80):
        yield {"pid": lit(pid), "fl": order(str(kind))}


def _careunit(c: Ctx) -> Iterator[Params]:
    for pid, kind in scoped(c, "", " join transfers t using(hadm_id) where t.careunit is not null"):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "fl": _first_last(c)}


def _unit_patients(c: Ctx) -> Iterator[Params]:
    units = c.rows("select distinct careunit from transfers where careunit is not null order by 1")
    for _ in range(40):
        yield {"cu": lit(c.rng.choice(units)[0]), "win": window(c, "transfers.intime")}


_CURRENT = "( select admissions.hadm_id from admissions where admissions.subject_id = {pid} and " \
           "admissions.dischtime is null )"


def _unit(c: Ctx, col: str) -> P:
    return elapsed(c.rng.choice(("hours", "days")), col)


def _since_admission(c: Ctx) -> Iterator[Params]:
    for (pid,) in c.pick("select subject_id from admissions where dischtime is null order by 1"):
        yield {"pid": lit(pid), "el": _unit(c, "admissions.admittime")}


def _since_drug(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct a.subject_id, r.drug from admissions a join prescriptions r using(hadm_id) "
           "where a.dischtime is null order by 1, 2")
    for pid, drug in c.pick(sql, 80):
        yield {"pid": lit(pid), "drug": lit(drug), "fl": _first_last(c),
               "el": _unit(c, "prescriptions.startdate")}


def _since_unit(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct a.subject_id, t.careunit from admissions a join transfers t using(hadm_id) "
           "where a.dischtime is null and t.careunit is not null order by 1, 2")
    for pid, unit in c.pick(sql):
        yield {"pid": lit(pid), "cu": lit(unit), "fl": _first_last(c), "el": _unit(c, "transfers.intime")}


def _vital_agg(c: Ctx) -> Iterator[Params]:
    for pid, kind, vital, *_ in c.pick(_CHART_SCOPED, spread=1):
        yield {"pid": lit(pid), "when": icu(c, pid, str(kind)), "vital": lit(vital), "agg": c.rng.choice(AGG)}


_CMP = (P("greater", ">", ">"), P("less", "<", "<"))


def _vital_count(c: Ctx) -> Iterator[Params]:
    sql = ("select c.subject_id, d.label, date(c.charttime), min(c.valuenum), max(c.valuenum) "
           "from chartevents c join d_items d using(itemid) group by 1, 2, 3 having count(*) >= 2 "
           "order by 1, 2, 3")
    for pid, vital, date, lo, hi in c.pick(sql, 80):
        win = day(c, "chartevents.charttime", str(date)) if c.rng.random() < 0.5 else P("", "", "W('all')")
        yield {"pid": lit(pid), "vital": lit(vital), "cmp": c.rng.choice(_CMP),
               "val": lit(round(c.rng.uniform(lo, hi), 1)), "win": win}


def _vital_change(c: Ctx) -> Iterator[Params]:
    for pid, kind, vital, _lo, _hi, count in c.pick(_CHART_SCOPED, 80, spread=1):
        if count >= 2:
            a, b = c.rng.choice(_PAIRS)
            yield {"pid": lit(pid), "when": icu(c, pid, str(kind)), "vital": lit(vital), "a": _nth(a),
                   "b": _nth(b)}


def _vital_cmp_time(c: Ctx) -> Iterator[Params]:
    for pid, kind, vital, lo, hi, _ in c.pick(_CHART_SCOPED, spread=1):
        yield {"pid": lit(pid), "when": icu(c, pid, str(kind)), "vital": lit(vital), "fl": _first_last(c),
               "cmp": c.rng.choice(_CMP), "val": lit(round(c.rng.uniform(lo, hi), 1))}


def _intake(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct s.subject_id, s.kind, d.label from scope_icu s join inputevents_cv i "
           "using(icustay_id) "
           "join d_items d using(itemid) order by 1, 2, 3")
    for pid, kind, label in c.pick(sql, spread=1):
        yield {"pid": lit(pid), "when": icu(c, pid, str(kind)), "intake": lit(label)}


def _outputs(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct o.subject_id, d.label from outputevents o join d_items d using(itemid) "
           "order by 1, 2")
    for pid, label in c.pick(sql, 80):
        win = window(c, "outputevents.charttime", ("all", "since"))
        yield {"pid": lit(pid), "output": lit(label), "win": win}


def _balance(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct s.subject_id, s.kind from scope_icu s join outputevents o using(icustay_id) "
           "order by 1, 2")
    for pid, kind in c.pick(sql, spread=1):
        yield {"pid": lit(pid), "when": icu(c, pid, str(kind))}


def _top_intake(c: Ctx) -> Iterator[Params]:
    for _ in range(40):
        yield {"n": c.rng.choice(TOP_N), "win": window(c, "inputevents_cv.charttime")}


def _change_sql(table: str, scope_col: str, ids: str) -> str:
    one = (f"( select {table}.valuenum from {table} where {table}.{scope_col} in ( {{when}} ) and "
           f"{table}.itemid in {ids} order by {table}.charttime @ORDER@ )")
    return f"select {one.replace('@ORDER@', '{a}')} - {one.replace('@ORDER@', '{b}')}"


_ELAPSED_CUR = ("how many {el} have passed since the {fl} time patient {pid} {event} on the current "
                "hospital visit?",
                "how many {el} has it been since patient {pid} {event} for the {fl} time during this "
                "hospital encounter?")

MEASURE_TEMPLATES: tuple[Template, ...] = (
    Template(
        "lab_value", "labs", "First or last value of a patient's lab test",
        ("what was the {fl} measured value of a {lab} lab test of patient {pid}{when}?",
         "what was the {fl} {lab} value of patient {pid}{when}?",
         "tell me the {fl} value of the {lab} lab test of patient {pid}{when}."),
        "select labevents.valuenum from labevents where labevents.hadm_id in ( {when} ) and "
        "labevents.itemid in " + LAB_IDS + " order by labevents.charttime {fl} limit 1",
        LAB_PY + "l = l[l.hadm_id.isin({when})]\nans = list(l.sort_values('charttime').valuenum.{fl}(1))",
        _lab_value,
    ),
    Template(
        "lab_change", "labs", "Change between two values of a patient's lab test",
        ("what is the change in the value of {lab} of patient {pid} from the {a} value measured{when} "
         "compared to the {b} value measured{when}?",
         "how much did the {lab} of patient {pid} change from the {b} value to the {a} value{when}?",
         "what is the difference between the {a} and the {b} {lab} values of patient {pid}{when}?"),
        _change_sql("labevents", "hadm_id", LAB_IDS),
        LAB_PY + "v = list(l[l.hadm_id.isin({when})].sort_values('charttime').valuenum)\n"
        "ans = [v[{a}] - v[{b}]]",
        _lab_change,
    ),
    Template(
        "lab_aggregate", "labs", "Maximum, minimum or average of a patient's lab values",
        ("what was the {agg} {lab} value of patient {pid}{when}?",
         "what is the {agg} value of the {lab} lab test of patient {pid}{when}?"),
        "select {agg}(labevents.valuenum) from labevents where labevents.hadm_id in ( {when} ) and "
        "labevents.itemid in " + LAB_IDS,
        LAB_PY + "ans = [l[l.hadm_id.isin({when})].valuenum.{agg}()]",
        _lab_agg,
    ),
    Template(
        "icu_length_of_stay", "icu_transfers", "Length of an icu stay",
        ("what was the length of the {fl} icu stay of patient {pid}?",
         "how many days did patient {pid} spend in the icu on the {fl} icu visit?",
         "calculate the length of the {fl} intensive care unit stay of patient {pid}."),
        "select cast( julianday(date(icustays.outtime)) - julianday(date(icustays.intime)) as integer ) from "
        "icustays where icustays.hadm_id in " + PID_ADMS + " and icustays.outtime is not null "
        "order by icustays.intime {fl} limit 1",
        "s = T('icustays')\n"
        "s = s[s.hadm_id.isin(adm({pid})) & s.outtime.notna()].sort_values('intime').{fl}(1)\n"
        "ans = [(r.outtime.normalize() - r.intime.normalize()).days for r in s.itertuples()]",
        _icu_length,
    ),
    Template(
        "icu_careunit", "icu_transfers", "First or last care unit of a patient",
        ("what was the {fl} careunit of patient {pid}{when}?",
         "what was the {fl} icu care unit that patient {pid} stayed in{when}?"),
        "select transfers.careunit from transfers where transfers.hadm_id in ( {when} ) and "
        "transfers.careunit is not null order by transfers.intime {fl} limit 1",
        "t = T('transfers')\nt = t[t.hadm_id.isin({when}) & t.careunit.notna()]\n"
        "ans = list(t.sort_values('intime').careunit.{fl}(1))",
        _careunit,
    ),
    Template(
        "icu_unit_patients", "icu_transfers", "Number of patients who stayed in a care unit",
        ("count the number of patients who stayed in careunit {cu}{win}.",
         "how many patients stayed in the {cu} care unit{win}?"),
        "select count( distinct admissions.subject_id ) from admissions where admissions.hadm_id in ( select "
        "transfers.hadm_id from transfers where transfers.careunit = {cu}{win} )",
        "t = T('transfers')\nt = t[t.careunit == {cu}]\nt = t[{win}(t.intime)]\na = T('admissions')\n"
        "ans = [a[a.hadm_id.isin(t.hadm_id)].subject_id.nunique()]",
        _unit_patients,
    ),
    Template(
        "time_since_admission", "time_intervals", "Time since a patient's current admission",
        ("how many {el} have passed since patient {pid} was admitted to the hospital?",
         "how many {el} has it been since patient {pid}'s current hospital admission?",
         "for how many {el} has patient {pid} been in the hospital on the current visit?"),
        "select {el} from admissions where admissions.subject_id = {pid} and admissions.dischtime is null",
        "a = T('admissions')\na = a[(a.subject_id == {pid}) & a.dischtime.isna()]\n"
        "ans = [since(t, {el}) for t in a.admittime]",
        _since_admission,
    ),
    Template(
        "time_since_drug", "time_intervals", "Time since a drug was prescribed on the current visit",
        tuple(p.replace("{event}", "was prescribed {drug}") for p in _ELAPSED_CUR),
        "select {el} from prescriptions where prescriptions.hadm_id in " + _CURRENT
        + " and prescriptions.drug = {drug} order by prescriptions.startdate {fl} limit 1",
        "r = T('prescriptions')\nr = r[r.hadm_id.isin(adm({pid}, 'cur')) & (r.drug == {drug})]\n"
        "ans = [since(t, {el}) for t in r.sort_values('startdate').startdate.{fl}(1)]",
        _since_drug,
    ),
    Template(
        "time_since_careunit", "time_intervals",
        "Time since a patient stayed in a care unit on the current visit",
        tuple(p.replace("{event}", "stayed in careunit {cu}") for p in _ELAPSED_CUR),
        "select {el} from transfers where transfers.hadm_id in " + _CURRENT
        + " and transfers.careunit = {cu} order by transfers.intime {fl} limit 1",
        "t = T('transfers')\nt = t[t.hadm_id.isin(adm({pid}, 'cur')) & (t.careunit == {cu})]\n"
        "ans = [since(x, {el}) for x in t.sort_values('intime').intime.{fl}(1)]",
        _since_unit,
    ),
    Template(
        "vital_aggregate", "vitals", "Maximum, minimum or average of a patient's vital sign",
        ("what was the {agg} {vital} of patient {pid}{when}?",
         "what is the {agg} value of {vital} of patient {pid}{when}?"),
        "select {agg}(chartevents.valuenum) from chartevents where chartevents.icustay_id in ( {when} ) and "
        "chartevents.itemid in " + CHART_IDS,
        CHART_PY + "ans = [c[c.icustay_id.isin({when})].valuenum.{agg}()]",
        _vital_agg,
    ),
    Template(
        "vital_count_beyond", "vitals", "Number of times a vital sign crossed a threshold",
        ("how many times was the {vital} of patient {pid} {cmp} than {val}{win}?",
         "count the number of times that patient {pid} had a {vital} {cmp} than {val}{win}.",
         "how many {vital} measurements of patient {pid} were {cmp} than {val}{win}?"),
        "select count(*) from chartevents where chartevents.icustay_id in " + PID_STAYS + " and "
        "chartevents.itemid in " + CHART_IDS + " and chartevents.valuenum {cmp} {val}{win}",
        CHART_PY + "c = c[c.icustay_id.isin(icu({pid})) & (c.valuenum {cmp} {val})]\n"
        "ans = [len(c[{win}(c.charttime)])]",
        _vital_count,
    ),
    Template(
        "vital_change", "vitals", "Change between two values of a patient's vital sign",
        ("what is the change in the {vital} of patient {pid} from the {a} value measured{when} compared to "
         "the {b} value measured{when}?",
         "how much did the {vital} of patient {pid} change from the {b} value to the {a} value{when}?"),
        _change_sql("chartevents", "icustay_id", CHART_IDS),
        CHART_PY + "v = list(c[c.icustay_id.isin({when})].sort_values('charttime').valuenum)\n"
        "ans = [v[{a}] - v[{b}]]",
        _vital_change,
    ),
    Template(
        "vital_threshold_time", "vitals", "When a vital sign first or last crossed a threshold",
        ("when was the {fl} time that the {vital} of patient {pid} was {cmp} than {val}{when}?",
         "when did patient {pid} have a {vital} {cmp} than {val} for the {fl} time{when}?"),
        "select chartevents.charttime from chartevents where chartevents.icustay_id in ( {when} ) and "
        "chartevents.itemid in " + CHART_IDS + " and chartevents.valuenum {cmp} {val} "
        "order by chartevents.charttime {fl} limit 1",
        CHART_PY + "c = c[c.icustay_id.isin({when}) & (c.valuenum {cmp} {val})]\n"
        "ans = list(c.sort_values('charttime').charttime.{fl}(1))",
        _vital_cmp_time,
    ),
    Template(
        "io_intake_total", "input_output", "Total volume of an intake",
        ("what was the total volume of {intake} intake that patient {pid} received{when}?",
         "how much {intake} did patient {pid} receive in total{when}?",
         "what is the total amount of {intake} given to patient {pid}{when}?"),
        "select sum(inputevents_cv.amount) from inputevents_cv where inputevents_cv.icustay_id in "
        "( {when} ) and inputevents_cv.itemid in " + _item_ids("inputevents_cv", "intake"),
        _item_py("i", "inputevents_cv", "intake") + "ans = [i[i.icustay_id.isin({when})].amount.sum()]",
        _intake,
    ),
    Template(
        "io_output_count", "input_output", "Number of times a patient had an output",
        ("count the number of times that patient {pid} had a {output} output{win}.",
         "how many times did patient {pid} have {output} output{win}?"),
        "select count(*) from outputevents where outputevents.icustay_id in " + PID_STAYS + " and "
        "outputevents.itemid in " + _item_ids("outputevents", "output") + "{win}",
        _item_py("o", "outputevents", "output") + "o = o[o.icustay_id.isin(icu({pid}))]\n"
        "ans = [len(o[{win}(o.charttime)])]",
        _outputs,
    ),
    Template(
        "io_balance", "input_output", "Total intake minus total output of a patient",
        ("what is the difference between the total volume of intake and output of patient {pid}{when}?",
         "what was the fluid balance (total intake minus total output) of patient {pid}{when}?"),
        "select ( select sum(inputevents_cv.amount) from inputevents_cv where inputevents_cv.icustay_id in ( "
        "{when} ) ) - ( select sum(outputevents.value) from outputevents where outputevents.icustay_id in ( "
        "{when} ) )",
        "i = T('inputevents_cv')\no = T('outputevents')\nstays = {when}\n"
        "ans = [i[i.icustay_id.isin(stays)].amount.sum() - o[o.icustay_id.isin(stays)].value.sum()]",
        _balance,
    ),
    Template(
        "io_top_intakes", "input_output", "Most frequent intake events",
        ("what are the top {n} frequent intake events{win}?", "what were the {n} most common intakes{win}?"),
        "select d_items.label from d_items where d_items.itemid in ( select t1.itemid from ( select "
        "inputevents_cv.itemid, dense_rank() over ( order by count(*) desc ) as c1 from inputevents_cv where "
        "inputevents_cv.icustay_id is not null{win} group by inputevents_cv.itemid ) as t1 where t1.c1 <= "
        "{n} )",
        "i = T('inputevents_cv')\nc = i[{win}(i.charttime)].itemid.value_counts()\n"
        "top = c[c.rank(method='dense', ascending=False) <= {n}].index\nit = T('d_items')\n"
        "ans = list(it[it.itemid.isin(top)].label)",
        _top_intake, max_items=7,
    ),
)
