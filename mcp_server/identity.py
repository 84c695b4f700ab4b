"""Who is calling: the key under which a client's episodes are kept."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context

from mcp_server.settings import Settings

SESSION_HEADER = "mcp-session-id"


def client_identity(ctx: Context[Any, Any], settings: Settings) -> str | None:
    """'stdio' for the stdio process, 'http:<session id>' for a stateful HTTP session, else None.

    None means a sessionless client: it must pass `episode_id` back explicitly.
    """
    if settings.transport == "stdio":
        return "stdio"
    headers = ctx.headers or {}
    session = headers.get(SESSION_HEADER)
    return f"http:{session}" if session else None
