"""Question templates on prescriptions, costs and microbiology."""

from __future__ import annotations

from collections.abc import Iterator

from task_store.pack.ehr_templates import (
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
from task_store.pack.ehr_templates_records import DX_CODE, DX_PY, PID_ADMS, PX_CODE, TOP_N, scoped

_RX = ("select distinct a.subject_id, r.drug from prescriptions r join admissions a using(hadm_id) "
       "order by 1, 2")


def _routes(c: Ctx) -> Iterator[Params]:
    for (drug,) in c.pick("select distinct drug from prescriptions order by 1"):
        yield {"drug": lit(drug)}


def _dose(c: Ctx) -> Iterator[Params]:
    for pid, kind, drug in scoped(c, ", r.drug", " join prescriptions r using(hadm_id)"):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "drug": lit(drug),
               "fl": order(c.rng.choice(("first", "last")))}


def _total_dose(c: Ctx) -> Iterator[Params]:
    for pid, drug in c.pick(_RX, 120):
        yield {"pid": lit(pid), "drug": lit(drug), "win": window(c, "prescriptions.startdate")}


_N_TIMES = (P("two or more times", ">= 2", ">= 2"), P("two times", "= 2", "== 2"),
            P("three or more times", ">= 3", ">= 3"))


def _n_times(c: Ctx) -> Iterator[Params]:
    for pid, kind in scoped(c, k=100):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "nt": c.rng.choice(_N_TIMES)}


def _which_drugs(c: Ctx) -> Iterator[Params]:
    drugs = [name for (name,) in c.rows("select distinct drug from prescriptions order by 1")]
    for (pid,) in c.pick("select distinct subject_id from prescriptions order by 1", 60):
        win = window(c, "prescriptions.startdate", ("all", "since", "ago"))
        had = c.rows("select distinct prescriptions.drug from prescriptions where prescriptions.hadm_id in "
                     + PID_ADMS.format(pid=pid) + win.sql)
        choices = options(c, [d for (d,) in had], drugs, 3)
        if choices:
            yield {"pid": lit(pid), "d1": lit(choices[0]), "d2": lit(choices[1]), "d3": lit(choices[2]),
                   "win": win}


def _top_drugs(c: Ctx) -> Iterator[Params]:
    for _ in range(40):
        yield {"n": c.rng.choice(TOP_N), "grp": age_group(c),
               "win": window(c, "prescriptions.startdate", ("all", "since", "ago"))}


_COST_KINDS = (
    ("labevents", "select distinct d.label from labevents x join d_labitems d using(itemid) order by 1",
     "a {} lab test", "select labevents.row_id from labevents where labevents.itemid in ( select "
     "d_labitems.itemid from d_labitems where d_labitems.label = {} )",
     "di = T('d_labitems')\ne = T('labevents')\ne = e[e.itemid.isin(di[di.label == {}].itemid)]"),
    ("prescriptions", "select distinct drug from prescriptions order by 1", "a drug named {}",
     "select prescriptions.row_id from prescriptions where prescriptions.drug = {}",
     "e = T('prescriptions')\ne = e[e.drug == {}]"),
    ("procedures_icd", "select distinct d.short_title from procedures_icd x join d_icd_procedures d "
     "using(icd9_code) order by 1", "a procedure named {}",
     "select procedures_icd.row_id from procedures_icd where procedures_icd.icd9_code = " + PX_CODE,
     "dp = T('d_icd_procedures')\ne = T('procedures_icd')\ne = e[e.icd9_code.isin(dp[dp.short_title == "
     "{}].icd9_code)]"),
    ("diagnoses_icd", "select distinct d.short_title from diagnoses_icd x join d_icd_diagnoses d "
     "using(icd9_code) order by 1", "diagnosing {}",
     "select diagnoses_icd.row_id from diagnoses_icd where diagnoses_icd.icd9_code = " + DX_CODE,
     "dd = T('d_icd_diagnoses')\ne = T('diagnoses_icd')\ne = e[e.icd9_code.isin(dd[dd.short_title == "
     "{}].icd9_code)]"),
)


def _cost_item(c: Ctx) -> Iterator[Params]:
    names = {kind: [row[0] for row in c.rows(sql)] for kind, sql, *_ in _COST_KINDS}
    for _ in range(40):
        kind, _sql, text, events_sql, events_py = c.rng.choice(_COST_KINDS)
        name = lit(c.rng.choice(names[kind]))
        events_sql = events_sql.replace("{dx}", "{}").replace("{px}", "{}")
        yield {"thing": P(text.format(name.text), "", ""), "etype": lit(kind),
               "events": P("", events_sql.format(name.sql), events_py.format(name.py))}


def _total_cost(c: Ctx) -> Iterator[Params]:
    for pid, kind in scoped(c):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind))}


AGG = (P("average", "avg", "mean"), P("maximum", "max", "max"), P("minimum", "min", "min"))


def _cost_by_dx(c: Ctx) -> Iterator[Params]:
    sql = ("select distinct d.short_title from diagnoses_icd x join d_icd_diagnoses d using(icd9_code) "
           "order by 1")
    for (dx,) in c.pick(sql):
        win = window(c, "cost.chargetime", ("all", "since", "in"))
        yield {"dx": lit(dx), "agg": c.rng.choice(AGG), "win": win}


_MICRO = " join microbiologyevents m using(hadm_id)"


def _organism(c: Ctx) -> Iterator[Params]:
    for pid, kind, spec in scoped(c, ", m.spec_type_desc", _MICRO + " where m.org_name is not null"):
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "spec": lit(spec),
               "fl": order(c.rng.choice(("first", "last")))}


def _micro_patients(c: Ctx) -> Iterator[Params]:
    specs = c.rows("select distinct spec_type_desc from microbiologyevents order by 1")
    for _ in range(40):
        yield {"spec": lit(c.rng.choice(specs)[0]), "win": window(c, "microbiologyevents.charttime")}


def _organisms(c: Ctx) -> Iterator[Params]:
    for pid, kind, spec in scoped(c, ", m.spec_type_desc", _MICRO + " where m.org_name is not null", k=60):
        if c.rng.random() < 0.5:
            test = P(f" {spec}", f" and microbiologyevents.spec_type_desc = {lit(spec).sql}",
                     f"m = m[m.spec_type_desc == {lit(spec).py}]")
        else:
            test = P("", "", "pass")
        yield {"pid": lit(pid), "when": hosp(c, pid, str(kind)), "spec": test}


_RX_PY = "r = T('prescriptions')\n"
_MICRO_PY = "m = T('microbiologyevents')\n"

ORDER_TEMPLATES: tuple[Template, ...] = (
    Template(
        "rx_route", "prescriptions", "Routes of administration of a drug",
        ("what is the intake method of {drug}?", "how is {drug} administered?",
         "what are the routes of administration of {drug}?", "tell me the method of intake of {drug}."),
        "select distinct prescriptions.route from prescriptions where prescriptions.drug = {drug}",
        _RX_PY + "ans = sorted(set(r[r.drug == {drug}].route))",
        _routes,
    ),
    Template(
        "rx_dose", "prescriptions", "Dose of a drug prescribed to a patient",
        ("what was the dose of {drug} that patient {pid} was {fl} prescribed{when}?",
         "what was the {fl} dose of {drug} prescribed to patient {pid}{when}?",
         "how much {drug} was patient {pid} prescribed the {fl} time{when}?"),
        "select prescriptions.dose_val_rx from prescriptions where prescriptions.hadm_id in ( {when} ) and "
        "prescriptions.drug = {drug} order by prescriptions.startdate {fl} limit 1",
        _RX_PY + "r = r[r.hadm_id.isin({when}) & (r.drug == {drug})]\n"
        "ans = list(r.sort_values('startdate').dose_val_rx.{fl}(1))",
        _dose,
    ),
    Template(
        "rx_total_dose", "prescriptions", "Total prescribed dose of a drug",
        ("what was the total dose of {drug} that patient {pid} was prescribed{win}?",
         "what is the total amount of {drug} prescribed to patient {pid}{win}?",
         "tell me the total dose of {drug} prescribed to patient {pid}{win}."),
        "select sum(prescriptions.dose_val_rx) from prescriptions where prescriptions.hadm_id in " + PID_ADMS
        + " and prescriptions.drug = {drug}{win}",
        _RX_PY + "r = r[r.hadm_id.isin(adm({pid})) & (r.drug == {drug})]\n"
        "ans = [r[{win}(r.startdate)].dose_val_rx.sum()]",
        _total_dose,
    ),
    Template(
        "rx_repeated", "prescriptions", "Drugs prescribed to a patient several times",
        ("what drugs was patient {pid} prescribed {nt}{when}?",
         "what was the name of the drug that patient {pid} was prescribed {nt}{when}?",
         "which medications were prescribed to patient {pid} {nt}{when}?"),
        "select t1.drug from ( select prescriptions.drug, count( prescriptions.startdate ) as c1 from "
        "prescriptions where prescriptions.hadm_id in ( {when} ) group by prescriptions.drug ) as t1 where "
        "t1.c1 {nt}",
        _RX_PY + "c = r[r.hadm_id.isin({when})].groupby('drug').size()\nans = list(c[c {nt}].index)",
        _n_times,
    ),
    Template(
        "rx_which_of", "prescriptions", "Which of three drugs a patient was prescribed",
        ("which of {d1}, {d2}, or {d3} has patient {pid} been prescribed{win}?",
         "which of the drugs {d1}, {d2} and {d3} was patient {pid} given{win}?",
         "of {d1}, {d2}, and {d3}, which have been prescribed to patient {pid}{win}?"),
        "select distinct prescriptions.drug from prescriptions where prescriptions.hadm_id in " + PID_ADMS
        + " and prescriptions.drug in ( {d1}, {d2}, {d3} ){win}",
        _RX_PY + "r = r[r.hadm_id.isin(adm({pid})) & r.drug.isin([{d1}, {d2}, {d3}])]\n"
        "ans = sorted(set(r[{win}(r.startdate)].drug))",
        _which_drugs, max_items=2,
    ),
    Template(
        "rx_top_by_age", "prescriptions", "Most frequently prescribed drugs in an age group",
        ("what are the top {n} most frequently prescribed drugs for patients aged {grp}{win}?",
         "what were the top {n} frequently prescribed drugs of patients aged {grp}{win}?"),
        "select t1.drug from ( select prescriptions.drug, dense_rank() over ( order by count(*) desc ) as c1 "
        "from prescriptions where prescriptions.hadm_id in ( select admissions.hadm_id from admissions where "
        "admissions.age {grp} ){win} group by prescriptions.drug ) as t1 where t1.c1 <= {n}",
        "a = T('admissions')\n" + _RX_PY + "r = r[r.hadm_id.isin(a[a.age.between({grp})].hadm_id)]\n"
        "c = r[{win}(r.startdate)].drug.value_counts()\n"
        "ans = list(c[c.rank(method='dense', ascending=False) <= {n}].index)",
        _top_drugs, max_items=7,
    ),
    Template(
        "cost_of_event", "costs", "Cost of a lab test, drug, procedure or diagnosis",
        ("what is the cost of {thing}?", "how much does {thing} cost?", "tell me the cost of {thing}."),
        "select distinct cost.cost from cost where cost.event_type = {etype} and cost.event_id in "
        "( {events} )",
        "{events}\nc = T('cost')\n"
        "ans = sorted(set(c[(c.event_type == {etype}) & c.event_id.isin(e.row_id)].cost))",
        _cost_item,
    ),
    Template(
        "cost_total_visit", "costs", "Total hospital cost of a patient",
        ("what is the total hospital cost of patient {pid}{when}?",
         "how much was the total cost of patient {pid}'s hospital stay{when}?",
         "what was the total hospital cost for patient {pid}{when}?"),
        "select sum(cost.cost) from cost where cost.hadm_id in ( {when} )",
        "c = T('cost')\nans = [c[c.hadm_id.isin({when})].cost.sum()]",
        _total_cost,
    ),
    Template(
        "cost_visits_with_dx", "costs", "Aggregate total cost of visits with a diagnosis",
        ("what is the {agg} total hospital cost that involves a diagnosis named {dx}{win}?",
         "what was the {agg} total cost of a hospital visit with a diagnosis of {dx}{win}?"),
        "select {agg}( t1.c1 ) from ( select sum(cost.cost) as c1 from cost where cost.hadm_id in ( select "
        "diagnoses_icd.hadm_id from diagnoses_icd where diagnoses_icd.icd9_code = " + DX_CODE + " ){win} "
        "group by cost.hadm_id ) as t1",
        DX_PY + "c = T('cost')\nc = c[c.hadm_id.isin(d.hadm_id)]\n"
        "ans = [c[{win}(c.chargetime)].groupby('hadm_id').cost.sum().{agg}()]",
        _cost_by_dx,
    ),
    Template(
        "micro_organism", "microbiology", "Organism found in a patient's microbiology test",
        ("what was the name of the organism found in the {fl} {spec} microbiology test of patient "
         "{pid}{when}?",
         "what organism was found in patient {pid}'s {fl} {spec} test{when}?",
         "which organism grew in the {fl} {spec} culture of patient {pid}{when}?"),
        "select microbiologyevents.org_name from microbiologyevents where microbiologyevents.hadm_id in ( "
        "{when} ) and microbiologyevents.spec_type_desc = {spec} and microbiologyevents.org_name is not null "
        "order by microbiologyevents.charttime {fl} limit 1",
        _MICRO_PY + "m = m[m.hadm_id.isin({when}) & (m.spec_type_desc == {spec}) & m.org_name.notna()]\n"
        "ans = list(m.sort_values('charttime').org_name.{fl}(1))",
        _organism,
    ),
    Template(
        "micro_patient_count", "microbiology", "Number of patients with a microbiology test",
        ("count the number of patients who received a {spec} microbiology test{win}.",
         "how many patients had a {spec} microbiology test{win}?"),
        "select count( distinct admissions.subject_id ) from admissions where admissions.hadm_id in ( select "
        "microbiologyevents.hadm_id from microbiologyevents where microbiologyevents.spec_type_desc = "
        "{spec}{win} )",
        _MICRO_PY + "m = m[m.spec_type_desc == {spec}]\nm = m[{win}(m.charttime)]\na = T('admissions')\n"
        "ans = [a[a.hadm_id.isin(m.hadm_id)].subject_id.nunique()]",
        _micro_patients,
    ),
    Template(
        "micro_organisms_found", "microbiology", "Organisms found in a patient's microbiology tests",
        ("which organisms were found in the{spec} microbiology tests of patient {pid}{when}?",
         "what organisms grew in patient {pid}'s{spec} microbiology tests{when}?",
         "list the organisms found in any{spec} microbiology test of patient {pid}{when}."),
        "select distinct microbiologyevents.org_name from microbiologyevents where "
        "microbiologyevents.hadm_id in ( {when} ){spec} and microbiologyevents.org_name is not null",
        _MICRO_PY + "m = m[m.hadm_id.isin({when})]\n{spec}\nans = sorted(set(m.org_name.dropna()))",
        _organisms,
    ),
)
