"""Run summaries: accuracy, pass@k, turns, tool calls, time and errors per dataset and per category.

`summarize(rows)` computes one `Summary` from a run's result rows; `markdown` and `text` render it
(GitHub tables, plain aligned text) and the HTML report reuses `table` for its cells.

Definitions. Accuracy is the mean of `correct` over episodes. pass@k uses the unbiased estimator
1 - C(n-c, k) / C(n, k) per task (n samples of the task, c correct), averaged over tasks, where k is
the run's samples per task (the most samples any task has); a task with fewer samples than k (a run
stopped midway) counts as solved if any of its samples is. pass@1 is the same with k = 1, i.e. the
mean over tasks of c / n. Errors are episodes where the agent or harness failed (`error` set); they
count as unsolved episodes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from math import comb
from typing import Literal

from pydantic import BaseModel, ConfigDict

from trajectory.rundir import ResultRow

OVERALL = "all"


class Stats(BaseModel):
    """One line of a summary: a dataset, a (dataset, category) pair, or the whole run."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    category: str | None = None
    episodes: int
    tasks: int
    accuracy: float
    pass_at_1: float
    pass_at_k: float
    mean_turns: float
    mean_run_code_calls: float
    mean_time_s: float
    total_time_s: float
    errors: int


class Summary(BaseModel):
    model_config = ConfigDict(frozen=True)

    k: int
    overall: Stats
    datasets: list[Stats]
    categories: list[Stats]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate for one task with n samples of which c are correct."""
    if n < 1 or k < 1 or not 0 <= c <= n:
        raise ValueError(f"pass@k needs n >= 1, k >= 1 and 0 <= c <= n (got n={n}, c={c}, k={k})")
    k = min(k, n)
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def samples_per_task(rows: Iterable[ResultRow]) -> int:
    """k of a run: the most samples any task has (1 for an empty run)."""
    return max(Counter(row.task_id for row in rows).values(), default=1)


def stats(rows: list[ResultRow], k: int, dataset: str = OVERALL, category: str | None = None) -> Stats:
    by_task: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        by_task[row.task_id].append(row.correct)
    n = len(rows)
    return Stats(
        dataset=dataset, category=category, episodes=n, tasks=len(by_task),
        accuracy=_mean(float(row.correct) for row in rows),
        pass_at_1=_mean(pass_at_k(len(c), sum(c), 1) for c in by_task.values()),
        pass_at_k=_mean(pass_at_k(len(c), sum(c), k) for c in by_task.values()),
        mean_turns=_mean(float(row.turns) for row in rows),
        mean_run_code_calls=_mean(float(row.run_code_calls) for row in rows),
        mean_time_s=_mean(row.duration_s for row in rows),
        total_time_s=sum(row.duration_s for row in rows),
        errors=sum(row.error is not None for row in rows),
    )


def summarize(rows: list[ResultRow]) -> Summary:
    k = samples_per_task(rows)
    datasets = _groups(rows, lambda row: (row.dataset, None))
    categories = _groups(rows, lambda row: (row.dataset, row.category))
    return Summary(
        k=k, overall=stats(rows, k),
        datasets=[stats(group, k, d) for (d, _), group in datasets.items()],
        categories=[stats(group, k, d, c) for (d, c), group in categories.items()],
    )


# -- rendering ------------------------------------------------------------------------------------
Level = Literal["dataset", "category"]
LEVELS: tuple[tuple[Level, str], ...] = (("dataset", "By dataset"), ("category", "By category"))


def table(summary: Summary, level: Level = "dataset") -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the dataset or category table; the overall row comes last."""
    columns = _columns(summary.k)
    keys = ["Dataset"] if level == "dataset" else ["Dataset", "Category"]
    lines = summary.datasets if level == "dataset" else summary.categories
    rows = [_key(s, level) + [cell(s) for _, cell in columns] for s in [*lines, summary.overall]]
    return keys + [name for name, _ in columns], rows


def markdown(summary: Summary, title: str) -> str:
    parts = [f"# {_md(title)}", ""]
    for level, heading in LEVELS:
        header, rows = table(summary, level)
        parts += [f"## {heading}", "", _md_row(header), _md_row(["---"] * len(header))]
        parts += [_md_row(row) for row in rows] + [""]
    return "\n".join(parts)


def text(summary: Summary, title: str | None = None) -> str:
    """Aligned plain-text tables (for a terminal)."""
    parts = [title, ""] if title else []
    for level, _ in LEVELS:
        header, rows = table(summary, level)
        widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
        keys = 1 if level == "dataset" else 2
        for line in [header, *rows]:
            cells = [c.ljust(w) if i < keys else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
            parts.append("  ".join(cells).rstrip())
        parts.append("")
    return "\n".join(parts)


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _columns(k: int) -> list[tuple[str, Callable[[Stats], str]]]:
    columns: list[tuple[str, Callable[[Stats], str]]] = [
        ("Episodes", lambda s: str(s.episodes)),
        ("Tasks", lambda s: str(s.tasks)),
        ("Accuracy", lambda s: percent(s.accuracy)),
        ("pass@1", lambda s: percent(s.pass_at_1)),
    ]
    if k > 1:
        columns.append((f"pass@{k}", lambda s: percent(s.pass_at_k)))
    return [
        *columns,
        ("Turns", lambda s: f"{s.mean_turns:.1f}"),
        ("run_code", lambda s: f"{s.mean_run_code_calls:.1f}"),
        ("Time/episode (s)", lambda s: f"{s.mean_time_s:.1f}"),
        ("Time (s)", lambda s: f"{s.total_time_s:.1f}"),
        ("Errors", lambda s: str(s.errors)),
    ]


def _key(s: Stats, level: Level) -> list[str]:
    if s.dataset == OVERALL and s.category is None:
        return ["all"] if level == "dataset" else ["all", ""]
    return [s.dataset] if level == "dataset" else [s.dataset, s.category or ""]


def _groups(
    rows: list[ResultRow], key: Callable[[ResultRow], tuple[str, str | None]]
) -> dict[tuple[str, str | None], list[ResultRow]]:
    groups: dict[tuple[str, str | None], list[ResultRow]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")))


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(_md(c) for c in cells) + " |"
