"""`medgym demo`: a short scripted MCP session on the built-in pack, printed as an agent saw it.

It spawns `medgym serve` over stdio exactly as Claude Desktop would, lists the datasets, and for
a few test tasks of each pack dataset (medgym_fhir: with the episode's own FHIR server): opens the
task, lists its data tables (if it has any),
runs code in the sandbox, submits the
answer and prints the verdict. The "agent" here is the oracle: it runs the pack's reference
solution (read from the local store, never from the server), so every verdict should be
correct; one deliberately wrong answer shows a rejection.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from typing import Any

from mcp import Client, StdioServerParameters

from evaluation.session import wait_until_ready
from mcp_server.settings import Settings
from task_store.pack.build import PACK_DATASETS

WIDTH = 100


def _server(settings: Settings) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith("MEDGYM_") or k in ("PATH", "HOME", "DOCKER_HOST")}
    env["MEDGYM_HOME"] = str(settings.home)
    env["MEDGYM_IMAGE"] = settings.image
    env.setdefault("MEDGYM_LOG_LEVEL", "WARNING")
    if settings.data_dir is not None:
        env["MEDGYM_DATA_DIR"] = str(settings.data_dir)
    return StdioServerParameters(command=sys.executable, args=["-m", "medgym_cli", "serve"], env=env)


def _show(label: str, text: str, limit: int = 400) -> None:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    print(textwrap.fill(text, WIDTH, initial_indent=f"  {label}: ", subsequent_indent="    "))


async def _call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {' '.join(getattr(c, 'text', '') for c in result.content)}")
    return result.structured_content or {}


def _waiting() -> Any:
    shown: list[float] = [0.0]

    def show(detail: str) -> None:
        if time.monotonic() - shown[0] > 5:
            shown[0] = time.monotonic()
            print(f"(the server is getting ready: {detail})", file=sys.stderr)

    return show


async def run_demo(settings: Settings, per_dataset: int = 2) -> int:
    from task_store.store import DataRoot, TaskStore

    started = time.monotonic()
    solved = attempted = 0
    async with Client(_server(settings), read_timeout_seconds=600) as client:
        await wait_until_ready(client, on_wait=_waiting())
        listing = await _call(client, "list_datasets")
        print("Datasets served:")
        for info in listing["datasets"]:
            print(f"  {info['name']:14} {info['total']:5} tasks  {info['description'][:70]}")
        oracle = TaskStore.open(settings.db_path, [DataRoot("pack", settings.pack_path())])
        chosen: list[str] = []
        for dataset in PACK_DATASETS:
            page = await _call(client, "list_tasks", dataset=dataset, split="test", limit=200)
            chosen += _spread(page["tasks"], per_dataset)
        for task_id in chosen:
            attempted += 1
            solved += await _solve(client, oracle, task_id)
        wrong_id = [t for t in chosen if t.split("/")[0] in ("medgym_ehr", "medgym_calc", "medgym_power")][-1]
        await _call(client, "reset_task", task_id=wrong_id)
        verdict = await _call(client, "submit_answer", task_id=wrong_id, answer=[] if "ehr" in wrong_id else -12345)
        print(f"\nA deliberately wrong answer to {wrong_id}: correct={verdict['correct']} ({verdict['feedback']})")
    print(f"\nSolved {solved}/{attempted} tasks, verified by the server, in {time.monotonic() - started:.1f} s.")
    return 0 if solved == attempted else 1


def _spread(tasks: list[dict[str, Any]], count: int) -> list[str]:
    """The first task of `count` categories spread evenly over the listing (a varied sample)."""
    firsts: dict[str, str] = {}
    for task in tasks:
        firsts.setdefault(task["category"], task["task_id"])
    categories = sorted(firsts)
    step = max(1, len(categories) // max(1, count))
    return [firsts[c] for c in categories[::step][:count]]


async def _solve(client: Client, oracle: Any, task_id: str) -> bool:
    view = await _call(client, "get_task", task_id=task_id)
    print(f"\n=== {task_id}  [{view['category']}]")
    _show("question", view["question"])
    if view.get("context"):
        _show("context", view["context"], 300)
    if view["data_files"]:
        _show("data", ", ".join(f["path"].rsplit("/", 1)[1] for f in view["data_files"]), 200)
    _show("answer format", f"{view['answer_format']['kind']}: {view['answer_format']['how_to_submit']}", 200)
    if "http://fhir:8080/fhir/" in view["instructions"]:
        _show("EHR", "a FHIR server of this episode's own at http://fhir:8080/fhir/ (the sandbox's only network "
              "peer); writes to it are checked when the answer is submitted", 200)
    if view["data_files"]:
        tables = await _call(client, "inspect_data", task_id=task_id, action="list_tables")
        _show("inspect_data", f"{len(tables['rows'])} tables: " + ", ".join(
            f"{row[0]} ({row[4]} rows)" for row in tables["rows"]), 300)
    code = oracle.reference_solution(task_id)
    if view["answer_format"]["kind"] == "code":  # the reference is the code to submit, graded in a grader sandbox
        verdict = await _call(client, "submit_answer", task_id=task_id, answer=code)
        print(f"  submit_answer: the reference code ({len(code.splitlines())} lines): correct={verdict['correct']}  "
              f"({verdict['feedback']})")
        return bool(verdict["correct"])
    run = await _call(client, "run_code", task_id=task_id, code=code, timeout_s=120)
    output = run["stdout"].strip().splitlines()
    print(f"  run_code: the reference solution ({len(code.splitlines())} lines) ran in "
          f"{run['duration_ms']:.0f} ms, exit {run['exit_code']}; last line: {output[-1] if output else ''}")
    verdict = await _call(client, "submit_answer", task_id=task_id, answer=json.loads(output[-1]))
    print(f"  submit_answer: correct={verdict['correct']}  ({verdict['feedback']})")
    return bool(verdict["correct"])
