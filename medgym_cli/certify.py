"""Certify the built-in pack: every reference solution, run in the real sandbox, must score
correct, and constant answers must score incorrect. Tasks that fail are quarantined (not served).
Prediction tasks: the reference writes a predictions file in the sandbox, which is read back and
scored; constant and random predictions files must score incorrect (`certify_predictions`).
FHIR tasks are certified in real episode bundles, with more probes (`certify_fhir`). Code tasks
(the pack's and a data directory's BioCoder / BioDSBench) run in fresh grader sandboxes
(`certify_code`); a data directory's failures are quarantined beside the index.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from medgym.errors import AnswerFormatError, SandboxUnavailableError
from medgym_cli import certify_code
from medgym_cli.certify_fhir import check_fhir_task
from medgym_cli.certify_predictions import check_predictions
from sandbox.contract import Sandbox
from sandbox.limits import Limits
from scoring.fhir_key import FhirTaskKey
from scoring.keys import AnswerKey, PredictionsKey
from scoring.score import AnswerValue
from scoring.verify import verify
from task_store import data
from task_store.models import AnswerKind, Task
from task_store.pack.build import PACK_DATASETS, quarantine
from task_store.store import DataRoot, TaskFilter, TaskStore
from tools.sandboxes import SandboxProvider

log = logging.getLogger(__name__)

SOLUTION_TIMEOUT_S = 120.0
LIMITS = Limits(memory_mb=4096, cpus=2.0)  # reference solutions may be heavier than an agent's probes
CONSTANTS: dict[AnswerKind, tuple[AnswerValue, ...]] = {
    "number": (0, 1), "integer": (0, 1), "date": ("01/01/2000",), "gestational_age": ([0, 0],),
    "list": (["0"], ["1"], []), "boolean": (True, False), "text": ("0",),
}


@dataclass
class DatasetReport:
    tasks: int = 0
    reference_correct: int = 0
    constants_incorrect: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    task_id: str
    reference_ok: bool
    constants_ok: bool
    detail: str
    skipped: bool = False  # could not be checked here (e.g. its data is missing): never quarantined


def select(store: TaskStore, dataset: str | None, limit: int | None) -> list[Task]:
    """Pack tasks to certify; with `limit`, a sample stratified by dataset and category."""
    datasets = [dataset] if dataset else [d for d in PACK_DATASETS if store.root_of(d)]
    chosen: list[Task] = []
    for name in datasets:
        ids = _all_ids(store, name)
        if limit is not None:
            ids = _stratified(store, ids, max(1, limit // len(datasets)))
        chosen.extend(store.get(task_id) for task_id in ids)
    return chosen


def _all_ids(store: TaskStore, dataset: str) -> list[str]:
    ids, cursor = [], None
    while True:
        page = store.query(TaskFilter(dataset=dataset), limit=200, cursor=cursor)
        ids += [t.task_id for t in page.tasks]
        if not (cursor := page.next_cursor):
            return ids


def _stratified(store: TaskStore, ids: list[str], limit: int) -> list[str]:
    """Round-robin over categories, so a sample covers every template / calculator / test type."""
    by_category: dict[str, list[str]] = defaultdict(list)
    for task_id in ids:
        by_category[store.get(task_id).category].append(task_id)
    queues = [list(v) for _, v in sorted(by_category.items())]
    picked: list[str] = []
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def check_task(sandbox: Sandbox, task: Task, key: AnswerKey, solution: str | None) -> Outcome:
    """Run the reference solution and score it; then score the constant answers."""
    if isinstance(key, PredictionsKey):
        return Outcome(task.task_id, *check_predictions(sandbox, task, key, solution, SOLUTION_TIMEOUT_S))
    constants_ok = not any(_scores(key, c) for c in CONSTANTS.get(task.answer_format.kind, ()))
    if not solution:
        return Outcome(task.task_id, False, constants_ok, "no reference solution")
    result = sandbox.run(solution, SOLUTION_TIMEOUT_S, 1 << 20)
    lines = result.stdout.strip().splitlines()
    if result.exit_code != 0 or not lines:
        return Outcome(task.task_id, False, constants_ok,
                       f"reference exited {result.exit_code}: {result.stderr.strip()[-300:]}")
    try:
        answer = json.loads(lines[-1])
    except ValueError:
        return Outcome(task.task_id, False, constants_ok, "the reference's last line is not JSON")
    ok = _scores(key, answer)
    detail = "ok" if ok and constants_ok else ("a constant answer scores correct" if ok else "reference incorrect")
    return Outcome(task.task_id, ok, constants_ok, detail)


def _scores(key: AnswerKey, answer: AnswerValue) -> bool:
    try:
        return verify(key, answer).correct
    except AnswerFormatError:
        return False


def certify(
    store: TaskStore, sandboxes: SandboxProvider, tasks: Iterable[Task],
    on_result: Callable[[Outcome], None] | None = None,
) -> tuple[dict[str, DatasetReport], list[Outcome]]:
    """Certify `tasks`, one sandbox per dataset (with the dataset's data mounted)."""
    reports: dict[str, DatasetReport] = defaultdict(DatasetReport)
    outcomes: list[Outcome] = []
    by_dataset: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        by_dataset[task.dataset].append(task)
    for dataset, items in by_dataset.items():
        started = time.monotonic()
        for outcome in _outcomes(store, sandboxes, dataset, items):
            _tally(reports[dataset], outcome)
            outcomes.append(outcome)
            if on_result:
                on_result(outcome)
        reports[dataset].seconds = round(time.monotonic() - started, 1)
    return dict(reports), outcomes


def _outcomes(store: TaskStore, sandboxes: SandboxProvider, dataset: str, items: list[Task]) -> Iterator[Outcome]:
    """Each task's outcome: code tasks in fresh grader sandboxes, the others through `_checker`."""
    if certify_code.is_code_dataset(store, items):
        for code in certify_code.certify_tasks(store, sandboxes, items):
            yield Outcome(code.task_id, code.reference_ok, code.trivial_ok, code.detail, code.skipped)
        return
    with _checker(store, sandboxes, dataset) as check:
        for task in items:
            yield check(task)


@contextmanager
def _checker(store: TaskStore, sandboxes: SandboxProvider, dataset: str) -> Iterator[Callable[[Task], Outcome]]:
    """Checks tasks of one dataset: in one sandbox with its data, or (FHIR) one episode bundle per task."""
    spec = sandboxes.spec(dataset, {"medgym.episode": f"certify-{dataset}"}, LIMITS)
    root = store.root_of(dataset)
    if data.uses_fhir(dataset) and root is not None:
        if sandboxes.fhir is None:
            raise SandboxUnavailableError("FHIR tasks need the Docker sandbox backend")
        fhir = sandboxes.fhir
        yield lambda task: Outcome(task.task_id, *check_fhir_task(
            fhir, spec, root.path / dataset, task, _fhir_key(store, task.task_id),
            store.reference_solution(task.task_id)))
        return
    sandbox = sandboxes.start(spec)
    try:
        yield lambda task: check_task(sandbox, task, store.answer_key(task.task_id),
                                      store.reference_solution(task.task_id))
    finally:
        sandbox.close()


def _fhir_key(store: TaskStore, task_id: str) -> FhirTaskKey:
    key = store.answer_key(task_id)
    assert isinstance(key, FhirTaskKey)
    return key


def _tally(report: DatasetReport, outcome: Outcome) -> None:
    report.tasks += 1
    if outcome.skipped:
        report.skipped.append(f"{outcome.task_id}: {outcome.detail}")
        return
    report.reference_correct += outcome.reference_ok
    report.constants_incorrect += outcome.constants_ok
    if not (outcome.reference_ok and outcome.constants_ok):
        report.failures.append(f"{outcome.task_id}: {outcome.detail}")


def apply(pack_root: Path, outcomes: list[Outcome], reports: dict[str, DatasetReport]) -> int:
    """Record the certification in the pack and quarantine the tasks that failed."""
    failed = {o.task_id for o in outcomes if not ((o.reference_ok and o.constants_ok) or o.skipped)}
    summary = {name: r.__dict__ for name, r in sorted(reports.items())}
    (pack_root / "certification.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return quarantine(pack_root, failed)


def record_data_dir(home: Path, outcomes: list[Outcome]) -> int:
    """Quarantine failing tasks of a user's data directory (beside the index); returns how many."""
    from task_store import quarantine as data_dir_quarantine

    failed = {o.task_id: o.detail for o in outcomes if not ((o.reference_ok and o.constants_ok) or o.skipped)}
    data_dir_quarantine.record(home, failed, {o.task_id for o in outcomes if o.reference_ok and o.constants_ok})
    return len(failed)


def pack_root_of(store: TaskStore) -> DataRoot | None:
    return next((r for r in store.roots if r.label == "pack"), None)
