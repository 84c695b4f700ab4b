"""Read-only tools: list_datasets, list_tasks, get_task."""

from __future__ import annotations

from collections import defaultdict

from mcp_server.episodes import Episode, EpisodeError
from task_store import data
from task_store.adapters import ADAPTERS
from task_store.models import Task
from task_store.pack.build import PACK_DATASETS
from task_store.store import BadCursorError, CountRow, TaskFilter, TaskPage, UnknownTaskError
from tools.context import Services
from tools.errors import ToolInputError
from tools.results import CategoryCount, DatasetInfo, DatasetList, LimitsView, SplitCount, TaskView

MAX_CATEGORIES = 50


def list_datasets(services: Services) -> DatasetList:
    store = services.store
    rows: dict[str, list[CountRow]] = defaultdict(list)
    for row in store.counts():
        rows[row.dataset].append(row)
    infos = [_dataset_info(services, name, rows[name]) for name in sorted(rows)]
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
    services: Services,
    dataset: str | None = None,
    split: str | None = None,
    category: str | None = None,
    search: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> TaskPage:
    if dataset is not None and services.store.root_of(dataset) is None:
        known = ", ".join(services.store.datasets()) or "none"
        raise ToolInputError(f"unknown dataset {shorten(dataset)}; datasets here: {known}")
    if not 1 <= limit <= 200:
        raise ToolInputError("limit must be between 1 and 200")
    try:
        return services.store.query(TaskFilter(dataset, split, category, search), limit, cursor)
    except BadCursorError as exc:
        raise ToolInputError(str(exc)) from None


def get_task(
    services: Services, client: str | None, task_id: str, episode_id: str | None = None, new_episode: bool = False,
    quota_key: str | None = None,
) -> TaskView:
    task = task_of(services, task_id)
    if new_episode and episode_id:
        raise ToolInputError("pass either episode_id (an open episode) or new_episode=true, not both")
    if new_episode or (client is None and not episode_id):
        try:
            episode = services.episodes.open(task_id, client, quota_key)  # the result carries the new id
        except EpisodeError as exc:
            raise ToolInputError(str(exc)) from None
    else:
        episode = resolve_episode(services, client, task_id, episode_id)
    episode.touch()
    root = services.store.root_of(task.dataset)
    directory = root.path / task.dataset if root is not None else None
    limits = services.limits
    return TaskView(
        task_id=task.task_id, dataset=task.dataset, split=task.split, category=task.category,
        title=task.title, instructions=task.instructions, question=task.question, context=task.context,
        data_files=list(data.data_files(directory, task.dataset)) if directory else [],
        data_available=directory is not None and data.data_available(directory, task.dataset),
        answer_format=task.answer_format, scorable=task.scorable,
        limits=LimitsView(default_timeout_s=limits.default_timeout_s, max_timeout_s=limits.max_timeout_s,
                          memory_mb=limits.memory_mb, cpus=limits.cpus,
                          max_output_bytes=limits.max_output_bytes),
        episode_id=episode.episode_id, episode_active=episode.active,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left,
    )


def task_of(services: Services, task_id: str) -> Task:
    """The task with this id, as a fixable tool error if there is none."""
    try:
        return services.store.get(task_id)
    except UnknownTaskError as exc:
        raise ToolInputError(str(exc)) from None


def resolve_episode(services: Services, client: str | None, task_id: str, episode_id: str | None) -> Episode:
    """The episode a call refers to (see `EpisodeManager.resolve`), as a fixable tool error if none."""
    try:
        return services.episodes.resolve(task_id, client, episode_id)
    except EpisodeError as exc:
        raise ToolInputError(str(exc)) from None


def shorten(value: str, limit: int = 80) -> str:
    """A caller's value quoted in an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
