"""A Streamable HTTP connection to a running medgym server, sending its bearer token.

The token is `MEDGYM_TOKEN` (the variable the server reads for the same purpose) unless given.
The SDK reports a refused token only as "an error response", so the HTTP status is watched
here and a refusal becomes a `ConfigurationError` that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from medgym.errors import ConfigurationError


def env_token() -> str | None:
    return os.environ.get("MEDGYM_TOKEN") or None


@asynccontextmanager
async def remote_client(url: str, token: str | None, read_timeout_s: float = 900.0) -> AsyncIterator[Client]:
    refused: list[int] = []

    async def note_refusal(response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            refused.append(response.status_code)

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"} if token else {},
                              timeout=httpx2.Timeout(30.0, read=read_timeout_s),
                              event_hooks={"response": [note_refusal]})
    try:
        async with http, Client(streamable_http_client(url, http_client=http),
                                read_timeout_seconds=read_timeout_s) as client:
            yield client
    except Exception:
        if refused:
            told = "it refused MEDGYM_TOKEN" if token else "set MEDGYM_TOKEN to a token it accepts"
            raise ConfigurationError(f"{url} wants a bearer token: {told} (HTTP {refused[0]})") from None
        raise
