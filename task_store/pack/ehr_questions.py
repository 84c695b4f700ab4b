"""EHRSQL-style questions over the synthetic EHR (`medgym_ehr`), with SQL-computed ground truth.

Each template (see `ehr_templates_records`, `_orders` and `_measures`) draws its parameters
from the database with its own seeded rng, renders the question, runs its SQL on the database for
the answer key and renders a pandas reference solution that recomputes the answer from the CSVs.
Instances whose answer a constant guess would get right (0, 1 or no result) are skipped.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from pathlib import Path

from scoring.items import compare
from scoring.keys import ItemSetKey
from scoring.score import Scalar
from task_store.models import AnswerFormat, IndexedTask, Task
from task_store.pack.ehr_db import SCHEMA, SQLITE_NAME, indexed_copy
from task_store.pack.ehr_templates import REF, Ctx, Params, Template, solution
from task_store.pack.ehr_templates_measures import MEASURE_TEMPLATES
from task_store.pack.ehr_templates_orders import ORDER_TEMPLATES
from task_store.pack.ehr_templates_records import RECORD_TEMPLATES

DATASET = "medgym_ehr"
TASKS_PER_TEMPLATE = 10
TEMPLATES: tuple[Template, ...] = RECORD_TEMPLATES + ORDER_TEMPLATES + MEASURE_TEMPLATES

_TABLES = "\n".join(f"- {name.upper()}.csv ({name}): {', '.join(cols)}" for name, cols in SCHEMA.items())
INSTRUCTIONS = f"""The data are a synthetic electronic health record (not real patients) in the MIMIC-III \
layout used by EHRSQL. Every table is a CSV file under /data/{DATASET}/ named after the table in upper \
case, with lower-case column headers; the same tables are in the SQLite database \
/data/{DATASET}/{SQLITE_NAME} with lower-case table and column names:
{_TABLES}

Conventions:
- Times are 'YYYY-MM-DD HH:MM:SS' in shifted years (2100-2105). The current time is {REF}: 'this year' \
is 2105, 'last year' is 2104, 'N years ago' counts back from the current time.
- A current hospital visit is an admission with an empty dischtime; the first/last hospital visit is the \
earliest/latest admission that has a dischtime. Likewise a current icu visit is an icu stay with an empty \
outtime, and the first/last icu visit is the earliest/latest icu stay that has an outtime.
- Lab tests are named by d_labitems.label; chart, intake and output items by d_items.label, with \
d_items.linksto naming their table; diagnoses and procedures by short_title in d_icd_diagnoses / \
d_icd_procedures (icd9_code is a string: keep leading zeros).
- Lengths of stay and elapsed days count calendar days between the two dates; elapsed hours count whole \
hours. A change from value A compared to value B is A minus B. The top N items are all items whose \
frequency rank (dense ranking, ties share a rank) is at most N. Counts of patients count distinct \
subject_id. Costs are cost.cost of the events named by cost.event_type and cost.event_id (a row_id)."""

ANSWER_FORMAT = AnswerFormat(
    kind="list",
    how_to_submit=(
        "submit a list of strings/numbers holding every item of the answer (order does not matter); "
        "[] when there is no result; names exactly as in the data or the question; times as "
        "'YYYY-MM-DD HH:MM:SS'"
    ),
)


def build_ehr_tasks(seed: int, db_path: Path) -> list[IndexedTask]:
    """All task instances for a database built by `build_ehr_database` (`db_path`: its sqlite file)."""
    con = _working_copy(db_path)
    try:
        return [task for template in TEMPLATES for task in _instances(con, seed, template)]
    finally:
        con.close()


def _working_copy(db_path: Path) -> sqlite3.Connection:
    """An in-memory copy of the database with indexes and the scope tables the samplers use."""
    con = indexed_copy(db_path)
    con.executescript(_SCOPES)
    return con


def _scope_sql(target: str, key: str, table: str, start: str, end: str) -> str:
    """(subject_id, key, kind) rows: every stay ('all'), the first/last finished one, the current ones."""
    ranked = (f"select subject_id, {key}, row_number() over (partition by subject_id order by {start} {{}}) "
              f"as r from {table} where {end} is not null")
    return (
        f"create table {target} as select subject_id, {key}, 'all' as kind from {table} "
        f"union all select subject_id, {key}, 'first' from ({ranked.format('asc')}) where r = 1 "
        f"union all select subject_id, {key}, 'last' from ({ranked.format('desc')}) where r = 1 "
        f"union all select subject_id, {key}, 'cur' from {table} where {end} is null;"
    )


_SCOPES = (_scope_sql("scope_hosp", "hadm_id", "admissions", "admittime", "dischtime")
           + _scope_sql("scope_icu", "icustay_id", "icustays", "intime", "outtime"))


def _instances(con: sqlite3.Connection, seed: int, template: Template) -> list[IndexedTask]:
    ctx = Ctx(con, random.Random(f"{seed}:{template.tid}"))
    out: list[IndexedTask] = []
    seen: set[str] = set()
    for params in template.sample(ctx):
        identity = json.dumps([seed, sorted((k, p.sql) for k, p in params.items())])
        tid = f"{template.tid}-{hashlib.sha256(identity.encode()).hexdigest()[:10]}"
        if tid in seen:
            continue
        seen.add(tid)
        items = _ground_truth(con, template, params)
        if items is None:
            continue
        question = ctx.rng.choice(template.phrasings).format(**{k: p.text for k, p in params.items()})
        out.append(_task(template, tid, question, items, params))
        if len(out) == TASKS_PER_TEMPLATE:
            break
    return out


def _ground_truth(con: sqlite3.Connection, template: Template, params: Params) -> list[str] | None:
    """The answer items, or None when the instance is not worth asking (guessable, too many items)."""
    rows = con.execute(template.sql.format(**{k: p.sql for k, p in params.items()})).fetchall()
    items = [_item(row[0]) for row in rows]
    if _guessable(items) or len(items) > template.max_items:
        return None
    return items


#: Constant answers that must never be right (the certification submits each of them).
GUESSES: tuple[list[Scalar], ...] = (["0"], ["1"], [])


def _guessable(items: list[str]) -> bool:
    """True when a constant guess scores correct: the normalised items are just 0, just 1 (numerically,
    with the verifier's tolerance) or no result at all ([], "None")."""
    return any(compare(items, guess).equal for guess in GUESSES)


def _item(x: object) -> str:
    if x is None:
        return "None"
    return repr(x) if isinstance(x, float) else str(x)


def _split(tid: str) -> str:
    return "train" if int(hashlib.sha256(tid.encode()).hexdigest()[:8], 16) % 100 < 70 else "test"


def _task(template: Template, tid: str, question: str, items: list[str], params: Params) -> IndexedTask:
    split = _split(tid)
    task = Task(
        task_id=f"{DATASET}/{split}/{tid}",
        dataset=DATASET,
        split=split,
        category=template.category,
        title=template.title,
        question=" ".join(question.split()),
        context=None,
        instructions=INSTRUCTIONS,
        answer_format=ANSWER_FORMAT,
    )
    py = template.py.format(**{k: p.py for k, p in params.items()})
    return IndexedTask(task=task, key=ItemSetKey(items=items), reference_solution=solution(py),
                       source=f"built-in pack: template {template.tid}")

