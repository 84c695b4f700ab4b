"""A task statement rendered as markdown (the `medgym://tasks/{task_id}` resource)."""

from __future__ import annotations

from task_store.models import Task


def task_markdown(task: Task) -> str:
    parts = [f"# {task.task_id}", "", f"**Dataset:** {task.dataset}  ", f"**Category:** {task.category}", ""]
    if task.instructions:
        parts += ["## Instructions", "", task.instructions, ""]
    parts += ["## Question", "", task.question, ""]
    if task.context:
        parts += ["## Context", "", task.context, ""]
    parts += ["## Answer format", "", f"{task.answer_format.kind}: {task.answer_format.how_to_submit}", ""]
    return "\n".join(parts)
