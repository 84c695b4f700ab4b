"""The export line formats (`trajectory.export` documents them) over `Episode`s of either source.

An `Episode` is one episode of a run directory or a store, its messages, raw record and turn log
loaded on demand; each format turns a stream of them into JSON lines.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from trajectory import atif
from trajectory.rescore import transcript_submission
from trajectory.toolspecs import Spec
from trajectory.transcript import Message
from trajectory.turns import TurnLog


@dataclass(frozen=True)
class Episode:
    """One episode of either source, its messages and raw record loaded on demand."""

    task_id: str
    dataset: str
    episode_id: str
    outcome: str
    source: str
    messages: Callable[[], list[Message]]
    raw: Callable[[], dict[str, Any] | None]
    tools: list[Spec]
    client: str | None = None
    ordinal: int = 1
    group: str | None = None
    turns: Callable[[], TurnLog] = TurnLog
    agent: dict[str, Any] | None = None  # who produced it (a run's agent kind and model)
    scorable: bool | None = None  # whether it could get a verdict (None: not known)


def first_episodes(episodes: Iterable[Episode]) -> Iterator[Episode]:
    """Each client's first episode of each task, with the samples of its group (pass@k, GRPO): later
    episodes are retries that may have learned from earlier verdicts (a guessed success after many
    failed episodes is not a positive example)."""
    chosen = list(episodes)
    first_groups = {(e.client, e.task_id): e.group for e in chosen if e.ordinal == 1}
    for episode in chosen:
        group = first_groups.get((episode.client, episode.task_id))
        if episode.ordinal == 1 or (group is not None and episode.group == group):
            yield episode

def token_turns(log: TurnLog, offset: int = 0) -> list[dict[str, Any]]:
    """Per assistant turn whose tokens were captured: its message index (less `offset`) and token data."""
    return [{"message_index": turn.message_index - offset, "prompt_token_ids": turn.tokens.prompt_token_ids,
             "completion_token_ids": turn.tokens.completion_token_ids, "logprobs": turn.tokens.logprobs}
            for turn in log.turns if turn.tokens is not None and turn.tokens.has_ids()]


# -- formats --------------------------------------------------------------------------------------
Pair = tuple[Episode, list[Message]]


def _sft(episodes: Iterable[Episode]) -> Iterator[dict[str, Any]]:
    for episode in episodes:
        if episode.outcome != "correct":
            continue
        messages = episode.messages()
        if len(messages) > 2:
            metadata = {"task_id": episode.task_id, "dataset": episode.dataset, "episode_id": episode.episode_id,
                        "group_id": episode.group, "source": episode.source}
            tokens = token_turns(episode.turns())
            yield {"messages": messages, "tools": episode.tools, "metadata": metadata,
                   **({"tokens": tokens} if tokens else {})}


def _dpo(episodes: Iterable[Episode]) -> Iterator[dict[str, Any]]:
    won: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    lost: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for episode in episodes:
        if episode.outcome not in ("correct", "incorrect", "unsubmitted"):
            continue
        messages = episode.messages()
        if len(messages) > 2:
            key = (episode.task_id, json.dumps(messages[:2], sort_keys=True))
            (won if episode.outcome == "correct" else lost)[key].append((episode, messages))
    for key in [key for key in lost if key in won]:
        for (winner, chosen), (loser, rejected) in pairs(won[key], lost[key]):
            metadata = {"task_id": winner.task_id, "dataset": winner.dataset, "chosen_episode_id": winner.episode_id,
                        "rejected_episode_id": loser.episode_id, "chosen_group_id": winner.group,
                        "rejected_group_id": loser.group, "same_group": loser.group is not None
                        and winner.group == loser.group, "source": winner.source}
            extra = {f"{side}_tokens": tokens for side, episode in (("chosen", winner), ("rejected", loser))
                     if (tokens := token_turns(episode.turns()))}
            yield {"prompt": chosen[:2], "chosen": chosen[2:], "rejected": rejected[2:], "metadata": metadata, **extra}


def pairs(won: list[Pair], lost: list[Pair]) -> Iterator[tuple[Pair, Pair]]:
    """(chosen, rejected) for every failed episode: round-robin over the correct episodes of its own group
    when it has any, else round-robin over all the task's correct episodes."""
    by_group: dict[str, list[Pair]] = defaultdict(list)
    for pair in won:
        if pair[0].group is not None:
            by_group[pair[0].group].append(pair)
    turns: dict[str | None, int] = defaultdict(int)
    for loser in lost:
        group = loser[0].group
        pool, slot = (by_group[group], group) if group is not None and by_group.get(group) else (won, None)
        yield pool[turns[slot] % len(pool)], loser
        turns[slot] += 1


def _raw(episodes: Iterable[Episode]) -> Iterator[dict[str, Any]]:
    for episode in episodes:
        record = episode.raw()
        if record is not None:
            yield record


def _atif(episodes: Iterable[Episode]) -> Iterator[dict[str, Any]]:
    for episode in episodes:
        messages = episode.messages()
        if len(messages) <= 2:
            continue  # nothing was done in it (as for sft and dpo)
        found = transcript_submission(messages)
        verdict = {k: found[1].get(k) for k in ("correct", "score", "feedback")} if found else None
        about = {"episode_id": episode.episode_id, "task_id": episode.task_id, "dataset": episode.dataset,
                 "group_id": episode.group, "ordinal": episode.ordinal, "source": episode.source,
                 "outcome": episode.outcome, "reward": reward(episode), "verdict": verdict,
                 "agent": episode.agent}
        yield atif.trajectory(messages, episode.turns(), episode.tools, about)


def reward(episode: Episode) -> float | None:
    """What an episode earned, as the training environments reward it: its verdict's score; 0 without a
    final submission when it could have been scored; None (never 0) on an error, for an episode that could
    not be scored, or when that is not known."""
    if episode.outcome in ("correct", "incorrect"):
        return 1.0 if episode.outcome == "correct" else 0.0
    return 0.0 if episode.outcome == "unsubmitted" and episode.scorable else None

FORMATS: dict[str, Callable[[Iterable[Episode]], Iterator[dict[str, Any]]]] = {
    "sft": _sft, "dpo": _dpo, "raw": _raw, "atif": _atif}
