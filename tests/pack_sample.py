"""What the whole-pack tests cover: the fast datasets whole, the slow ones by a stratified sample.

Code tasks (a fresh grader container each), prediction tasks (a model trained per task) and FHIR
tasks (a FHIR server per episode) would take most of CI's time if run whole; a sample spread over
every category (every function template and analysis, every prediction cohort, every FHIR family)
checks each kind of task, and their own test files cover them further.
"""

from __future__ import annotations

from task_store.models import Task
from task_store.pack.build import PACK_DATASETS
from task_store.store import TaskStore

WHOLE = ("medgym_ehr", "medgym_calc", "medgym_power")
SAMPLED = {
    "medgym_bio": 30,  # one task of each of its 30 categories (function templates and analyses)
    "medgym_predict": 5,  # five of its ten tasks, admission and ICU-stay cohorts
    "medgym_fhir": 20,  # two of each of its ten task families
}


def pack_sample(store: TaskStore) -> list[Task]:
    """The tasks the whole-pack tests run, dataset by dataset."""
    from medgym_cli.certify import select

    assert set(PACK_DATASETS) == set(WHOLE) | set(SAMPLED), "say whether a new pack dataset is run whole or sampled"
    return [task for dataset in PACK_DATASETS for task in select(store, dataset, SAMPLED.get(dataset))]
