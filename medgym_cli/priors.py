"""Constant-answer priors per category: how many of a category's tasks one constant answer passes.

Certification checks them (a pack category where one answer is right for most tasks measures
guessing, not skill). The constants tried are the tasks' own canonical answers: a range's middle,
an exact value, a date, an item set, a boolean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from medgym.errors import AnswerFormatError
from scoring.keys import (
    AnswerKey,
    BooleanKey,
    DateKey,
    GestationalAgeKey,
    IntegerKey,
    ItemSetKey,
    RangeKey,
    RelativeKey,
    TextKey,
)
from scoring.score import AnswerValue
from scoring.verify import verify
from task_store.models import Task
from task_store.store import TaskStore

MAX_PRIOR = 0.5  # a constant may pass at most half of a category's tasks
MIN_TASKS = 4  # smaller categories are too small to judge


def canonical(key: AnswerKey) -> AnswerValue | None:
    """An answer `key` accepts, used as a constant guess for the other tasks of its category."""
    match key:
        case RangeKey():
            return (key.lower + key.upper) / 2
        case IntegerKey() | RelativeKey() | BooleanKey():
            return key.value
        case DateKey():
            return key.date
        case GestationalAgeKey():
            return [key.weeks, key.days]
        case ItemSetKey():
            return list(key.items)
        case TextKey():
            return key.accepted[0] if key.accepted else None
    return None


def category_priors(store: TaskStore, tasks: Iterable[Task]) -> dict[tuple[str, str], float]:
    """(dataset, category) -> the largest share of its tasks that one constant answer passes."""
    keys: dict[tuple[str, str], list[AnswerKey]] = defaultdict(list)
    for task in tasks:
        keys[(task.dataset, task.category)].append(store.answer_key(task.task_id))
    return {group: _prior(members) for group, members in keys.items() if len(members) >= MIN_TASKS}


def _prior(keys: list[AnswerKey]) -> float:
    guesses = [g for g in (canonical(k) for k in keys) if g is not None]
    best = max((sum(_passes(k, guess) for k in keys) for guess in guesses), default=0)
    return best / len(keys)


def _passes(key: AnswerKey, answer: AnswerValue) -> bool:
    try:
        return verify(key, answer).correct
    except (AnswerFormatError, ValueError):
        return False
