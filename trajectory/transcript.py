"""Transcripts in the OpenAI chat format, shared by the agents, the run directory and the exports.

A transcript is a list of messages: a system prompt, the task statement as the user message,
then assistant messages with `tool_calls` (`run_code`, `inspect_data`, `submit_answer`) and `tool` messages with
each call's result as JSON, exactly what the model saw. The tools' specs come from the server
(`trajectory.toolspecs`).
"""

from __future__ import annotations

import json
from typing import Any

Message = dict[str, Any]

SYSTEM_PROMPT = (
    "You are a biomedical data scientist solving a MedAgentGym task. Use run_code to run Python 3 "
    "(pandas, numpy, scipy, scikit-learn and statsmodels are installed; the task's data is read-only "
    "under /data/<dataset>/; there is no network; files you write to /workspace persist). Print what "
    "you need to see; inspect_data lists, describes and searches the data tables without code. When you "
    "are sure, call submit_answer once with the answer in the requested format."
)

def task_statement(view: dict[str, Any]) -> str:
    """The user message: what `get_task` showed, as text (never anything hidden)."""
    parts = [f"Task {view['task_id']} ({view['dataset']}, {view['category']})"]
    if view.get("instructions"):
        parts.append(f"Instructions:\n{view['instructions']}")
    parts.append(f"Question:\n{view['question']}")
    if view.get("context"):
        parts.append(f"Context:\n{view['context']}")
    if view.get("data_files"):
        parts.append("Data files:\n" + "\n".join(f"- {f['path']}: {f['description']}" for f in view["data_files"]))
    answer = view.get("answer_format") or {}
    parts.append(f"Answer format ({answer.get('kind')}): {answer.get('how_to_submit')}")
    return "\n\n".join(parts)


def opening(view: dict[str, Any]) -> list[Message]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task_statement(view)}]


def tool_call(call_id: str, name: str, arguments: dict[str, Any], content: str | None = None) -> Message:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [{"id": call_id, "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)}}],
    }


def tool_result(call_id: str, payload: dict[str, Any]) -> Message:
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(payload)}
