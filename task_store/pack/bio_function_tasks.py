"""The `medgym_bio` function tasks: BioCoder-style "write this function" tasks with hidden harnesses.

Each template draws a variant (parameters stated in the question) and test cases from the task's
own random stream, so every instance is distinct. The hidden harness calls the function on edge
cases (empty input, lowercase, N bases, boundaries, invalid input) and on random cases, and prints
each result in a canonical form; an exception prints only its type. The reference function is the
code to submit (`reference_solution`); the statement shows one example computed from it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scoring.code_keys import FunctionOutputKey
from task_store.models import AnswerFormat, IndexedTask, Task
from task_store.pack.build import hash_split

DATASET = "medgym_bio"
TIMEOUT_S = 20.0
Case = tuple[Any, ...]


@dataclass(frozen=True)
class FunctionSpec:
    """One drawn instance of a template: what the agent reads, the reference, the hidden cases."""

    name: str
    params: str
    statement: str
    reference: str
    cases: list[Case]
    example: Case


Template = Callable[[random.Random], FunctionSpec]

HARNESS = '''\
import math
import numbers

<<insert solution here>>


def _show(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
        return "nan" if value != value else format(round(value, 6) + 0.0, ".6f")
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: repr(item[0]))
        return "{" + ", ".join(_show(k) + ": " + _show(v) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


CASES = __CASES__

for _args in CASES:
    try:
        print(_show(__NAME__(*_args)))
    except Exception as _exc:
        print("error", type(_exc).__name__)
'''

INSTRUCTIONS = (
    "Write the Python function described (standard library only is enough; numpy and pandas are available). "
    "Submit its complete definition (`def ...:` with its body; imports may go at the top of your submission) as "
    "one string with submit_answer. A hidden program calls it on many inputs, edge cases included, in a fresh "
    "sandbox and compares what it returns with the reference implementation (numbers to 6 decimals; lists and "
    "tuples alike; dict order ignored; raising the exception the description asks for counts). Use run_code "
    "to try your function first. A submission that is not valid Python or does not define the function is "
    "refused without using an attempt."
)


def harness(name: str, cases: list[Case]) -> str:
    return HARNESS.replace("__CASES__", repr(cases)).replace("__NAME__", name)


def example_line(spec: FunctionSpec) -> str:
    """`f('ACGT') returns 0.5`, computed by running the reference here (at build time)."""
    namespace: dict[str, Any] = {}
    exec(compile(spec.reference, f"<reference {spec.name}>", "exec"), namespace)  # our own reference code
    args = ", ".join(repr(a) for a in spec.example)
    try:
        shown = repr(namespace[spec.name](*spec.example))
    except ValueError:
        shown = "raises ValueError"
    else:
        shown = f"returns {shown}"
    return f"Example: {spec.name}({args}) {shown}"


def function_task(slug: str, spec: FunctionSpec) -> IndexedTask:
    digest = hashlib.sha256(f"{spec.statement}{spec.cases!r}".encode()).hexdigest()[:10]
    task_id_tail = f"{slug}-{digest}"
    split = hash_split(f"{DATASET}/{task_id_tail}")
    task = Task(
        task_id=f"{DATASET}/{split}/{task_id_tail}", dataset=DATASET, split=split, category=f"function: {slug}",
        title=f"def {spec.name}({spec.params})", question=spec.statement,
        context=f"Signature: def {spec.name}({spec.params})\n{example_line(spec)}", instructions=INSTRUCTIONS,
        answer_format=AnswerFormat(kind="code", how_to_submit=f"submit the complete definition of the function "
                                                              f"{spec.name} as Python source text"),
    )
    key = FunctionOutputKey(function=spec.name, harness=harness(spec.name, spec.cases), reference=spec.reference,
                            timeout_s=TIMEOUT_S)
    return IndexedTask(task=task, key=key, reference_solution=spec.reference, source=f"pack:{slug}")


def build_function_tasks(seed: int, templates: dict[str, Template], per_template: int) -> list[IndexedTask]:
    """`per_template` distinct instances of each template, from the pack seed."""
    tasks: list[IndexedTask] = []
    for slug, template in templates.items():
        rng = random.Random(f"{DATASET}:{seed}:{slug}")
        seen: set[str] = set()
        while len(seen) < per_template:
            item = function_task(slug, template(rng))
            if item.task.task_id not in seen:
                seen.add(item.task.task_id)
                tasks.append(item)
    return tasks


# -- random inputs shared by the templates ---------------------------------------------------------
def dna(rng: random.Random, length: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def messy_dna(rng: random.Random, length: int) -> str:
    """DNA with some lowercase letters and N bases."""
    letters = [rng.choice("ACGTACGTACGTN") for _ in range(length)]
    return "".join(c.lower() if rng.random() < 0.25 else c for c in letters)
