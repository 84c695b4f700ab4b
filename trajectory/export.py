"""Export episodes as JSON Lines for training: SFT conversations, DPO preference pairs, or raw records.

Sources. `source` is one of
- a run directory (it has `results.jsonl`; messages come from `transcripts/<episode_id>.json`);
- a folder of run directories: all of them, in name order, or only the one named by `run`;
- a medgym SQLite store file (`medgym.sqlite`): messages are rebuilt from the recorded events.

Messages are OpenAI chat messages (`trajectory.transcript`): `{"role": "system"|"user", "content"}`,
`{"role": "assistant", "content", "tool_calls": [{"id", "type": "function", "function": {"name",
"arguments": <JSON string>}}]}` and `{"role": "tool", "tool_call_id", "content": <JSON string>}`; no
other keys are kept. Rebuilt from the store: the system prompt and `task_statement(get_task result)`,
then for every `run_code` / `inspect_data` / `submit_answer` event in order an assistant message calling
it (ids `call_1`, `call_2`, ...; the arguments given, limited to those of the tool specs, so never
`task_id` or `episode_id`) and a
tool message with the result exactly as returned, or `{"error": <message>}` for a tool error.

Outcomes. A store episode has its recorded outcome. A run-directory row is `error` if its `error` is
set, else `correct` if correct, `incorrect` if submitted, `unsubmitted` otherwise.

Formats (one JSON object per line):
- `sft`: one line per correct episode:
  `{"messages": [...], "tools": [...], "metadata": {"task_id", "dataset", "episode_id", "group_id",
  "source"}}`, where `tools` are the OpenAI specs the server published (`tools.json` of a run, or
  kept in the store).
- `dpo`: within one source, for each task with at least one correct and one failed (`incorrect` or
  `unsubmitted`) episode with the same prompt, one line per failed episode. A failed episode is
  paired with the correct episodes of its own group first (the samples of one pass@k or GRPO group,
  round-robin), and only when its group has none, with the task's correct episodes round-robin
  (episodes ordered by task id and sample, or by start time in a store):
  `{"prompt": [system, user], "chosen": [rest of the correct episode], "rejected": [rest of the failed
  one], "metadata": {"task_id", "dataset", "chosen_episode_id", "rejected_episode_id",
  "chosen_group_id", "rejected_group_id", "same_group", "source"}}`.
- `raw`: a run directory gives `{"result": <results.jsonl row>, "messages": [...]}` per row; a store
  gives `{"episode": <EpisodeRecord>, "events": [<EventRecord>, ...]}` per episode.
- `atif`: one ATIF-v1.8 trajectory (Harbor's Agent Trajectory Interchange Format, `trajectory.atif`)
  per episode with at least one tool call, with the verified reward in `extra.medgym`.
Token ids. Where the model endpoint returned them (`medgym eval --capture-tokens`), `sft`, `dpo`
and `raw` lines from a run directory add `tokens` (`chosen_tokens`, `rejected_tokens`): one entry
per assistant turn that has them, `{"message_index", "prompt_token_ids", "completion_token_ids",
"logprobs"}`, `message_index` counting in `messages` (in `prompt + chosen` / `prompt + rejected`);
`atif` puts them in each agent step's `metrics`. They are never inside the messages.
`source` is `run:<run directory name>` or `store:<file name>`. Episodes without messages (no
transcript, no recorded get_task) are left out of `sft` and `dpo`; `error` and still-active episodes
are never in `dpo`.

Filters select episodes before formatting: `dataset`, `outcome`, `run`. Runs of the oracle agent
(their code is the built-in pack's hidden reference solutions) are skipped unless `include_oracle`;
in a store, episodes whose `run_code` ran a task's reference solution are flagged by the server
(`used_reference_solution`) and skipped the same way.
Nothing is exported but what the agent saw and did: no answer keys, no fields beyond those above.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Literal

from trajectory.formats import FORMATS, Episode, first_episodes, token_turns
from trajectory.records import EventRecord, Trajectory
from trajectory.rundir import ResultRow, RunDir
from trajectory.store import RecordStore
from trajectory.toolspecs import AGENT_TOOLS, HARNESS_PARAMETERS, TOOL_SPECS_KEY, Spec, argument_names
from trajectory.transcript import Message, opening, tool_call, tool_result
from trajectory.turns import CallTiming, Turn, TurnLog, read_turns

__all__ = ["Episode", "export", "first_episodes", "rebuild", "store_turns"]

Kind = Literal["sft", "dpo", "raw", "atif"]
OutcomeFilter = Literal["correct", "incorrect", "unsubmitted", "error"]
OUTCOMES = ("correct", "incorrect", "unsubmitted", "error")
MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


def export(
    source: Path, kind: Kind, out: Path, *, dataset: str | None = None, outcome: OutcomeFilter | None = None,
    run: str | None = None, include_oracle: bool = False, include_samples: bool = False,
) -> int:
    """Write the selected episodes of `source` to `out` in the `kind` format; return the lines written."""
    if kind not in FORMATS:
        raise ValueError(f"unknown export kind {kind!r} (use sft, dpo, raw or atif)")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r} (use {', '.join(OUTCOMES)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    count = 0
    try:
        with partial.open("w", encoding="utf-8") as handle:
            for episodes in _sources(source, run, include_oracle, dataset, outcome):
                for line in FORMATS[kind](episodes if include_samples else first_episodes(episodes)):
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                    count += 1
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    return count


def row_outcome(row: ResultRow) -> OutcomeFilter:
    if row.error is not None:
        return "error"
    return "correct" if row.correct else "incorrect" if row.submitted else "unsubmitted"


def is_oracle_run(run: RunDir, rows: list[ResultRow]) -> bool:
    """Whether the run's agent is the oracle (metadata `agent` as a kind or `{"kind": ...}`, or the rows)."""
    metadata = run.metadata()
    agent = metadata.get("agent")
    kinds = {agent.get("kind"), agent.get("name")} if isinstance(agent, dict) else {agent}
    kinds |= {metadata.get("agent_kind")} | {row.agent for row in rows}
    return "oracle" in kinds


def rebuild(trajectory: Trajectory, tools: list[Spec]) -> list[Message]:
    """The episode's transcript from its events ([] without a recorded get_task result)."""
    view = next((e.result for e in trajectory.events if e.tool == "get_task" and e.result), None)
    if view is None:
        return []
    messages = opening(view)
    allowed = argument_names(tools)
    calls = [e for e in trajectory.events if e.tool in AGENT_TOOLS]
    for number, event in enumerate(calls, start=1):
        call_id = f"call_{number}"
        messages.append(tool_call(call_id, event.tool, _arguments(event, allowed.get(event.tool))))
        messages.append(tool_result(call_id, event.result if event.result is not None else {"error": event.error}))
    return messages


# -- sources --------------------------------------------------------------------------------------
def _sources(
    source: Path, run: str | None, include_oracle: bool, dataset: str | None, outcome: str | None,
) -> Iterator[Iterable[Episode]]:
    if source.is_file():
        if run is not None:
            raise ValueError("`run` selects a run directory; a store has none")
        yield from _store_source(source, dataset, outcome, include_oracle)
        return
    for path in _run_dirs(source, run):
        rundir = RunDir(path)
        rows = rundir.rows()
        if include_oracle or not is_oracle_run(rundir, rows):
            yield _run_episodes(rundir, rows, dataset, outcome, rundir.tool_specs() or [])


def _run_agent(run: RunDir) -> dict[str, Any]:
    agent = run.metadata().get("agent")
    if not isinstance(agent, dict):
        return {"name": str(agent or "medgym-eval")}
    return {"name": f"medgym-eval:{agent.get('kind')}", "model": agent.get("model")}


def _run_dirs(source: Path, run: str | None) -> list[Path]:
    if (source / "results.jsonl").is_file():
        if run is not None and run != source.name:
            raise ValueError(f"{source} is the run {source.name!r}, not {run!r}")
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such run directory or store file")
    runs = sorted(p for p in source.iterdir() if (p / "results.jsonl").is_file())
    if run is not None:
        runs = [p for p in runs if p.name == run]
    if not runs:
        raise ValueError(f"{source} holds no run directory" + (f" named {run!r}" if run else ""))
    return runs


def _run_episodes(run: RunDir, rows: list[ResultRow], dataset: str | None, outcome: str | None,
                  tools: list[Spec]) -> Iterator[Episode]:
    source = f"run:{run.path.name}"
    agent = _run_agent(run)
    for row in sorted(rows, key=lambda r: (r.task_id, r.sample, r.episode_id)):
        state = row_outcome(row)
        if (dataset and row.dataset != dataset) or (outcome and state != outcome):
            continue
        messages = partial(_transcript, run, row)
        turns = partial(_run_turns, run, row)
        raw = partial(_raw_row, row, messages, turns)
        yield Episode(row.task_id, row.dataset, row.episode_id, state, source, messages, raw, tools, client=None,
                      ordinal=row.ordinal, group=row.group_id, turns=turns, agent=agent, scorable=row.scorable)


def _run_turns(run: RunDir, row: ResultRow) -> TurnLog:
    return read_turns(run.path / row.transcript) if row.transcript else TurnLog()


def _transcript(run: RunDir, row: ResultRow) -> list[Message]:
    return [_clean(message) for message in run.transcript(row)]


def _raw_row(row: ResultRow, messages: Callable[[], list[Message]], turns: Callable[[], TurnLog]) -> dict[str, Any]:
    tokens = token_turns(turns())
    return {"result": row.model_dump(mode="json"), "messages": messages(), **({"tokens": tokens} if tokens else {})}


def _store_source(
    path: Path, dataset: str | None, outcome: str | None, include_oracle: bool
) -> Iterator[Iterable[Episode]]:
    # Never open() a live SQLite file outside SQLite: closing that descriptor would drop the POSIX
    # locks this process's own connections hold on it, and concurrent writers could corrupt it.
    if path.suffix not in (".sqlite", ".db", ".sqlite3"):
        raise ValueError(f"{path} is neither a run directory nor a medgym SQLite store (.sqlite)")
    try:
        store = RecordStore(path)
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is not a medgym SQLite store: {exc}") from None
    try:
        yield _store_episodes(store, f"store:{path.name}", dataset, outcome, include_oracle)
    finally:
        store.close()


def _store_episodes(
    store: RecordStore, source: str, dataset: str | None, outcome: str | None, include_oracle: bool
) -> Iterator[Episode]:
    stored = store.meta(TOOL_SPECS_KEY)
    tools: list[Spec] = json.loads(stored) if stored else []
    for record in list(store.episodes(dataset=dataset, outcome=outcome)):
        if record.used_reference_solution and not include_oracle:
            continue  # its code is a built-in task's hidden reference solution
        messages = partial(_rebuilt, store, record.episode_id, tools)
        yield Episode(record.task_id, record.dataset, record.episode_id, record.outcome, source, messages,
                      partial(_raw_record, store, record.episode_id), tools, client=record.client,
                      ordinal=record.ordinal, group=record.group_id, turns=partial(_store_turns, store,
                                                                                   record.episode_id),
                      scorable=record.provenance.verifier is not None)


def _rebuilt(store: RecordStore, episode_id: str, tools: list[Spec]) -> list[Message]:
    trajectory = store.trajectory(episode_id)
    return rebuild(trajectory, tools) if trajectory is not None else []


def _store_turns(store: RecordStore, episode_id: str) -> TurnLog:
    trajectory = store.trajectory(episode_id)
    return store_turns(trajectory) if trajectory is not None else TurnLog()


def store_turns(trajectory: Trajectory) -> TurnLog:
    """The turn log of a rebuilt transcript (`rebuild`): each agent call's start (the event's time, which is
    its end, less its duration) and duration; the server never sees the model's tokens."""
    log = TurnLog()
    calls = [e for e in trajectory.events if e.tool in AGENT_TOOLS]
    for number, event in enumerate(calls, start=1):
        started = event.at - event.duration_ms / 1000
        log.turns.append(Turn(message_index=2 * number, at=started))
        log.calls.append(CallTiming(tool_call_id=f"call_{number}", at=started, duration_ms=event.duration_ms))
    return log


def _raw_record(store: RecordStore, episode_id: str) -> dict[str, Any] | None:
    trajectory = store.trajectory(episode_id)
    if trajectory is None:
        return None
    return {"episode": trajectory.episode.model_dump(mode="json"),
            "events": [event.model_dump(mode="json") for event in trajectory.events]}


def _arguments(event: EventRecord, allowed: set[str] | None) -> dict[str, Any]:
    """The arguments the agent chose (those of the tool's spec; without specs, all but the harness's)."""
    return {key: value for key, value in event.arguments.items() if value is not None
            and (key in allowed if allowed is not None else key not in HARNESS_PARAMETERS)}


def _clean(message: Message) -> Message:
    kept = {key: message[key] for key in MESSAGE_KEYS if key in message}
    if "tool_calls" in kept:
        kept["tool_calls"] = [
            {"id": call["id"], "type": call.get("type", "function"),
             "function": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}}
            for call in kept["tool_calls"]
        ]
    return kept
