"""Read-only tools: list_datasets, list_tasks, get_task."""

from __future__ import annotations

import difflib
from collections import defaultdict
from typing import Annotated

from pydantic import Field

from medgym.errors import InvalidArgumentError
from scoring.forms import accepted_forms
from task_store import data
from task_store.adapters import ADAPTERS
from task_store.models import AnswerFormat, Task
from task_store.pack.build import PACK_DATASETS
from task_store.store import CountRow, TaskFilter, TaskPage, TaskStore
from tools.context import Call, Services
from tools.episodes import Episode
from tools.params import EpisodeId, TaskId
from tools.results import CategoryCount, DatasetInfo, DatasetList, LimitsView, SplitCount, TaskView

MAX_CATEGORIES = 50


def list_datasets(
    call: Call,
    dataset: Annotated[str | None, Field(description="only this dataset, with all its categories (without it, "
                                                     "each dataset shows its 50 largest)", max_length=100)] = None,
) -> DatasetList:
    """Datasets served here: task counts per split, categories, whether their data is available and solvable."""
    loading = call.services.catalog.progress
    if not call.services.catalog.ready:
        return DatasetList(datasets=[], not_found=[], malformed_records=0, catalog=loading.state,
                           catalog_detail=loading.describe())
    store = call.services.store
    rows: dict[str, list[CountRow]] = defaultdict(list)
    for row in store.counts():
        rows[row.dataset].append(row)
    if dataset is not None and dataset not in rows:
        raise InvalidArgumentError(f"unknown dataset {shorten(dataset)}; datasets here: {', '.join(sorted(rows))}")
    names = [dataset] if dataset is not None else sorted(rows)
    infos = [_dataset_info(call.services, name, rows[name], all_categories=dataset is not None) for name in names]
    data_root = next((r for r in store.roots if r.label == "medagentgym"), None)
    not_found = sorted(set(ADAPTERS) - set(rows) - set(PACK_DATASETS)) if data_root is not None else []
    malformed = sum(len(report.errors) for report in store.reports.values())
    return DatasetList(datasets=infos, not_found=not_found, malformed_records=malformed, catalog="ready",
                       labels=store.audit.labels,
                       catalog_detail=f"{sum(i.total for i in infos)} tasks indexed")


def _dataset_info(services: Services, name: str, rows: list[CountRow], all_categories: bool = False) -> DatasetInfo:
    splits: dict[str, int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    for row in rows:
        splits[row.split] += row.count
        categories[row.category] += row.count
    root = services.store.root_of(name)
    adapter = ADAPTERS.get(name)
    available = services.store.availability(name)
    solvable = sum(r.count for r in rows if services.store.task_availability(name, r.category).solvable)
    ranked = sorted(categories.items(), key=lambda item: (-item[1], item[0]))
    top = ranked if all_categories else ranked[:MAX_CATEGORIES]
    truncated = len(top) < len(ranked)
    return DatasetInfo(
        name=name,
        description=adapter.description if adapter else name,
        source="built-in pack" if root is not None and root.label == "pack" else "data directory",
        total=sum(splits.values()),
        splits=[SplitCount(split=s, count=c) for s, c in sorted(splits.items())],
        categories=[CategoryCount(category=c, count=n) for c, n in top],
        categories_total=len(categories),
        categories_truncated=truncated,
        categories_note=(f"the {len(top)} largest of {len(ranked)} categories; call list_datasets with "
                         f"dataset={name!r} to see them all") if truncated else None,
        data_available=available.solvable,
        data_needed=adapter.data.summary if adapter else "",
        answer_kinds=list(adapter.answer_kinds) if adapter else [],
        scorable_tasks=sum(row.scorable for row in rows),
        solvable_tasks=solvable,
        unsolvable_reason=_unsolvable_reason(services, name, available, sum(splits.values()) - solvable),
    )


def _unsolvable_reason(services: Services, name: str, available: data.Availability, unsolvable: int) -> str | None:
    if not available.solvable:
        return f"{available.reason}; {available.fix}"
    if not unsolvable:
        return None
    missing = services.store.unsolvable_categories(name)
    first = services.store.task_availability(name, missing[0]) if missing else available
    return f"{unsolvable} of its tasks cannot be solved here (data of their own is missing), e.g. {first.reason}; " \
        f"{first.fix}"


def list_tasks(
    call: Call,
    dataset: Annotated[str | None, Field(description="e.g. medcalcbench, mimic_iii", max_length=100)] = None,
    split: Annotated[str | None, Field(description="train, test or valid", max_length=100)] = None,
    category: Annotated[str | None, Field(description="exact category name from list_datasets",
                                          max_length=500)] = None,
    search: Annotated[str | None, Field(description="words that must all occur in the question or its context",
                                        max_length=500)] = None,
    solvable: Annotated[bool | None, Field(description="true: only tasks whose data and services are present "
                                                       "here; false: only those that cannot be solved here")] = None,
    limit: Annotated[int, Field(ge=1, le=200, description="page size")] = 20,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page", max_length=1000)] = None,
) -> TaskPage:
    """Find tasks, filtered and paged, each flagged scorable and solvable. Never shows answers."""
    store = call.services.store
    if dataset is not None and store.root_of(dataset) is None:
        known = ", ".join(store.datasets()) or "none"
        raise InvalidArgumentError(f"unknown dataset {shorten(dataset)}; datasets here: {known}")
    if not 1 <= limit <= 200:
        raise InvalidArgumentError("limit must be between 1 and 200")
    page = store.query(TaskFilter(dataset, split, category, search, solvable), limit, cursor)
    if category is not None and page.total == 0 and cursor is None:
        _check_category(store, dataset, category)
    return page


def _check_category(store: TaskStore, dataset: str | None, category: str) -> None:
    """A category that names nothing: say so, with the closest names (categories match case-insensitively)."""
    known = store.categories(dataset)
    if category.casefold() in {name.casefold() for name in known}:
        return  # it exists; the other filters left nothing
    close = closest(category, known)
    where = f" in {dataset}" if dataset else ""
    hint = f"; close names: {', '.join(repr(c) for c in close)}" if close else "; list_datasets shows the categories"
    raise InvalidArgumentError(f"no category {shorten(category)}{where}{hint}")


def closest(wanted: str, known: list[str], n: int = 5) -> list[str]:
    """The known names most like `wanted`: sharing its words (or their starts) first, then by spelling."""
    words = [w for w in wanted.casefold().replace("-", " ").split() if len(w) >= 3]

    def likeness(name: str) -> float:
        folded = name.casefold()
        shared = sum(any(part.startswith(w[:5]) for part in folded.replace("-", " ").split()) for w in words)
        return shared + difflib.SequenceMatcher(None, wanted.casefold(), folded).ratio()

    ranked = sorted(known, key=likeness, reverse=True)
    return [name for name in ranked[:n] if likeness(name) >= 0.6]


def get_task(
    call: Call,
    task_id: TaskId,
    episode_id: EpisodeId = None,
    new_episode: Annotated[bool, Field(description="open another, parallel episode of this task (e.g. one per "
                                                   "sample); pass its episode_id to later calls")] = False,
    group: Annotated[str | None, Field(description="with new_episode: a name shared by episodes sampled together "
                                                   "(the k samples of pass@k, a GRPO group)", max_length=200)] = None,
) -> TaskView:
    """The task statement: question, context, data files, answer format, limits and attempts.

    Opens an episode for this task (your attempts and sandbox), without starting a container.
    """
    services = call.services
    task = task_of(call, task_id)
    if new_episode and episode_id:
        raise InvalidArgumentError("pass either episode_id (an open episode) or new_episode=true, not both")
    if group is not None and not new_episode:
        raise InvalidArgumentError("group names the episode a new_episode=true call opens; pass both")
    if new_episode or (call.caller.key is None and not episode_id):
        episode = services.episodes.open(task_id, call.caller, group)  # the result carries the new id
    else:
        episode = services.episodes.resolve(task_id, call.caller, episode_id)
    episode.touch()
    return task_view(services, task, episode)


def task_view(services: Services, task: Task, episode: Episode) -> TaskView:
    root = services.store.root_of(task.dataset)
    directory = root.path / task.dataset if root is not None else None
    available = services.store.task_availability(task.dataset, task.category)
    limits = services.limits
    return TaskView(
        task_id=task.task_id, dataset=task.dataset, split=task.split, category=task.category,
        title=task.title, question=task.question, context=task.context,
        instructions=_instructions(services, task) if available.solvable else unsolvable_notice(available),
        audit_note=services.store.audit.note(task.task_id, services.store.official_key(task.task_id)),
        data_files=list(data.data_files(directory, task.dataset)) if directory and available.solvable else [],
        data_available=available.solvable, solvable=available.solvable,
        solvable_reason=None if available.solvable else f"{available.reason}; {available.fix}",
        answer_format=_answer_format(task), scorable=task.scorable,
        limits=LimitsView(default_timeout_s=limits.default_timeout_s, max_timeout_s=limits.max_timeout_s,
                          memory_mb=limits.memory_mb, cpus=limits.cpus,
                          max_output_bytes=limits.max_output_bytes),
        episode_id=episode.episode_id, episode_active=episode.active,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left,
        ordinal=episode.ordinal, group=episode.group,
    )


def _instructions(services: Services, task: Task) -> str:
    """The task's instructions, with the convention its dataset's labels follow where the audit found one."""
    convention = services.store.audit.convention(task.dataset, task.category)
    if convention is None:
        return task.instructions
    return f"{task.instructions}\n\nConvention of this task type's answers: {convention}"


def _answer_format(task: Task) -> AnswerFormat:
    """The task's answer format, with the lenient forms its kind also accepts spelled out."""
    forms = accepted_forms(task.answer_format.kind)
    if not forms or forms in task.answer_format.how_to_submit:
        return task.answer_format
    how = task.answer_format.how_to_submit.rstrip(". ")
    return task.answer_format.model_copy(update={"how_to_submit": f"{how}. {forms}"})


def unsolvable_notice(available: data.Availability) -> str:
    return (f"This task cannot be solved on this server: {available.reason} ({available.fix}). It is shown so "
            "you can read it; a submission is refused without using an attempt.")


def task_of(call: Call, task_id: str) -> Task:
    """The task with this id (`UnknownTaskError` if there is none)."""
    return call.services.store.get(task_id)


def shorten(value: str, limit: int = 80) -> str:
    """A caller's value quoted in an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
