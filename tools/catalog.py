"""Read-only tools: list_datasets, list_tasks, get_task."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from pydantic import Field

from medgym.errors import InvalidArgumentError
from task_store import data
from task_store.adapters import ADAPTERS
from task_store.models import Task
from task_store.pack.build import PACK_DATASETS
from task_store.store import CountRow, TaskFilter, TaskPage
from task_store.task_data import task_data_missing
from tools.context import Call, Services
from tools.episodes import Episode
from tools.params import EpisodeId, TaskId
from tools.results import CategoryCount, DatasetInfo, DatasetList, LimitsView, SplitCount, TaskView

MAX_CATEGORIES = 50


def list_datasets(call: Call) -> DatasetList:
    """Datasets served here: task counts per split, categories, whether their data is available."""
    store = call.services.store
    rows: dict[str, list[CountRow]] = defaultdict(list)
    for row in store.counts():
        rows[row.dataset].append(row)
    infos = [_dataset_info(call.services, name, rows[name]) for name in sorted(rows)]
    data_root = next((r for r in store.roots if r.label == "medagentgym"), None)
    not_found = sorted(set(ADAPTERS) - set(rows) - set(PACK_DATASETS)) if data_root is not None else []
    malformed = sum(len(report.errors) for report in store.reports.values())
    return DatasetList(datasets=infos, not_found=not_found, malformed_records=malformed)


def _dataset_info(services: Services, name: str, rows: list[CountRow]) -> DatasetInfo:
    splits: dict[str, int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    for row in rows:
        splits[row.split] += row.count
        categories[row.category] += row.count
    root = services.store.root_of(name)
    adapter = ADAPTERS.get(name)
    top = sorted(categories.items(), key=lambda item: (-item[1], item[0]))[:MAX_CATEGORIES]
    return DatasetInfo(
        name=name,
        description=adapter.description if adapter else name,
        source="built-in pack" if root is not None and root.label == "pack" else "data directory",
        total=sum(splits.values()),
        splits=[SplitCount(split=s, count=c) for s, c in sorted(splits.items())],
        categories=[CategoryCount(category=c, count=n) for c, n in top],
        categories_total=len(categories),
        data_available=root is not None and data.data_available(root.path / name, name),
        data_needed=adapter.data.summary if adapter else "",
        answer_kinds=list(adapter.answer_kinds) if adapter else [],
        scorable_tasks=sum(row.scorable for row in rows),
    )


def list_tasks(
    call: Call,
    dataset: Annotated[str | None, Field(description="e.g. medcalcbench, mimic_iii", max_length=100)] = None,
    split: Annotated[str | None, Field(description="train, test or valid", max_length=100)] = None,
    category: Annotated[str | None, Field(description="exact category name from list_datasets",
                                          max_length=500)] = None,
    search: Annotated[str | None, Field(description="words that must all occur in the question or its context",
                                        max_length=500)] = None,
    limit: Annotated[int, Field(ge=1, le=200, description="page size")] = 20,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page", max_length=1000)] = None,
) -> TaskPage:
    """Find tasks, filtered and paged. Never shows answers."""
    store = call.services.store
    if dataset is not None and store.root_of(dataset) is None:
        known = ", ".join(store.datasets()) or "none"
        raise InvalidArgumentError(f"unknown dataset {shorten(dataset)}; datasets here: {known}")
    if not 1 <= limit <= 200:
        raise InvalidArgumentError("limit must be between 1 and 200")
    return store.query(TaskFilter(dataset, split, category, search), limit, cursor)


def get_task(
    call: Call,
    task_id: TaskId,
    episode_id: EpisodeId = None,
    new_episode: Annotated[bool, Field(description="open another, parallel episode of this task (e.g. one per "
                                                   "sample); pass its episode_id to later calls")] = False,
) -> TaskView:
    """The task statement: question, context, data files, answer format, limits and attempts.

    Opens an episode for this task (your attempts and sandbox), without starting a container.
    """
    services = call.services
    task = task_of(call, task_id)
    if new_episode and episode_id:
        raise InvalidArgumentError("pass either episode_id (an open episode) or new_episode=true, not both")
    if new_episode or (call.caller.key is None and not episode_id):
        episode = services.episodes.open(task_id, call.caller)  # the result carries the new id
    else:
        episode = services.episodes.resolve(task_id, call.caller, episode_id)
    episode.touch()
    return task_view(services, task, episode)


def task_view(services: Services, task: Task, episode: Episode) -> TaskView:
    root = services.store.root_of(task.dataset)
    directory = root.path / task.dataset if root is not None else None
    limits = services.limits
    return TaskView(
        task_id=task.task_id, dataset=task.dataset, split=task.split, category=task.category,
        title=task.title, instructions=task.instructions, question=task.question, context=task.context,
        data_files=list(data.data_files(directory, task.dataset)) if directory else [],
        data_available=directory is not None and data.data_available(directory, task.dataset)
        and task_data_missing(directory, task) is None,
        answer_format=task.answer_format, scorable=task.scorable,
        limits=LimitsView(default_timeout_s=limits.default_timeout_s, max_timeout_s=limits.max_timeout_s,
                          memory_mb=limits.memory_mb, cpus=limits.cpus,
                          max_output_bytes=limits.max_output_bytes),
        episode_id=episode.episode_id, episode_active=episode.active,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left,
    )


def task_of(call: Call, task_id: str) -> Task:
    """The task with this id (`UnknownTaskError` if there is none)."""
    return call.services.store.get(task_id)


def shorten(value: str, limit: int = 80) -> str:
    """A caller's value quoted in an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
