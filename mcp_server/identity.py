"""Who is calling: the key under which a client's episodes are kept."""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context

from mcp_server.settings import Settings

SESSION_HEADER = "mcp-session-id"


def client_identity(ctx: Context[Any, Any], settings: Settings) -> str | None:
    """'stdio' for the stdio process, 'http:<session id>' for a stateful HTTP session,
    'principal:<name>' for an authenticated sessionless client, else None.

    None means an anonymous sessionless client: it must pass `episode_id` back explicitly.
    """
    if settings.transport == "stdio":
        return "stdio"
    headers = ctx.headers or {}
    if session := headers.get(SESSION_HEADER):
        return f"http:{session}"
    token = get_access_token()
    return f"principal:{token.client_id}" if token is not None else None


def quota_key(ctx: Context[Any, Any], settings: Settings) -> str | None:
    """Whose episode quota a call counts against: its identity, else its network address."""
    if (identity := client_identity(ctx, settings)) is not None:
        return identity
    request = getattr(ctx.request_context, "request", None)
    client = getattr(request, "client", None)
    return f"addr:{client.host}" if client is not None else None
