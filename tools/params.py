"""Parameter types shared by several tools (each tool's parameter list lives in its signature).

`Annotated[..., Field(...)]` is the schema (HOUSE_STYLE 2). A `FromLimits` marker asks the
registrar to take a bound or default from the server's `Limits` when the tool is registered, so the
published schema always equals what the server enforces (e.g. `timeout_s` <= MEDGYM_MAX_TIMEOUT_S).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field


@dataclass(frozen=True)
class FromLimits:
    """Schema values read from `sandbox.limits.Limits` at registration: `le` (a maximum) and `default`."""

    le: str | None = None
    default: str | None = None


TaskId = Annotated[str, Field(description="task id from list_tasks, '<dataset>/<split>/<id>'",
                              min_length=1, max_length=512)]
EpisodeId = Annotated[str | None, Field(
    description="the episode_id returned by get_task; required only by clients without a session", max_length=64)]
TimeoutSeconds = Annotated[float | None, Field(gt=0, description="seconds before every process the code started "
                                                                 "is killed"),
                           FromLimits(le="max_timeout_s", default="default_timeout_s")]
