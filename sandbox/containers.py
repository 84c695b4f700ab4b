"""Two questions every kind of medgym container (sandbox, FHIR server) is asked on a Docker engine:
why did it stop, and remove it whatever its state."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def why_stopped(client: Any, container_id: str, closed: bool = False) -> str:
    """A parenthesised reason to append to a "lost" error: closed by this server (`closed`: the engine is
    not asked, it may be slow while it removes the container), gone, killed for memory, or its status."""
    if closed:
        return " (it was closed by this server)"
    try:
        state = client.api.inspect_container(container_id)["State"]
    except Exception:
        return " (the container no longer exists)"
    if state.get("OOMKilled"):
        return " (the container was killed for exceeding its memory limit)"
    return f" (container status: {state.get('Status')}, exit code {state.get('ExitCode')})"


def remove_container(client: Any, container_id: str) -> bool:
    """Force-remove a container; False when it could not be (already gone, or the engine is down: the
    reaper retries later). Never raises."""
    try:
        client.api.remove_container(container_id, force=True)
    except Exception as exc:
        log.debug("removing %s: %s", container_id[:12], exc)
        return False
    return True
