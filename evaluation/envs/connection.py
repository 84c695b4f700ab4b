"""One MCP connection to medgym, shared by many environment sessions.

`MedgymServer` says where medgym is: a running HTTP server (`url`), or `medgym serve` spawned
over stdio with the caller's `MEDGYM_*` settings. `MedgymLink` holds one connection open from a
startup hook to a shutdown hook: an owner task enters and leaves the client (anyio's cancel scopes
must be left by the task that entered them) while request handlers use it concurrently, each
episode passing its own `episode_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from evaluation.envs.rules import AgentRules
from evaluation.remote import env_token, remote_client
from evaluation.runner import Selection, select_tasks
from evaluation.session import agent_tool_specs, wait_until_ready
from medgym.errors import ServiceError

log = logging.getLogger(__name__)
KEEP = ("PATH", "HOME", "DOCKER_HOST", "LANG", "PYTHONPATH")


class MedgymUnavailable(ServiceError):
    """medgym could not be reached (the message says how it was tried)."""


@dataclass(frozen=True)
class MedgymServer:
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    read_timeout_s: float = 900.0
    token: str | None = field(default_factory=env_token, repr=False)  # sent to `url` (default: MEDGYM_TOKEN)

    def client(self) -> AbstractAsyncContextManager[Client]:
        if self.url:
            return remote_client(self.url, self.token, self.read_timeout_s)
        # a transport, not the parameters: mcp 2.0 (which verifiers pins) takes no StdioServerParameters
        return Client(stdio_client(self.stdio()), read_timeout_seconds=self.read_timeout_s)

    def stdio(self) -> StdioServerParameters:
        env = {k: v for k, v in os.environ.items() if k.startswith("MEDGYM_") or k in KEEP}
        return StdioServerParameters(command=sys.executable, args=["-m", "medgym_cli", "serve"],
                                     env={**env, **self.env})

    def describe(self) -> str:
        return self.url or "medgym serve (stdio)"


def has_filters(selection: Selection) -> bool:
    return any((selection.dataset, selection.split, selection.category))


class MedgymLink:
    def __init__(self, server: MedgymServer):
        self.server = server
        self._client: Client | None = None
        self._closing = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._listed: dict[Selection, list[str]] = {}
        self._rules: AgentRules | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise MedgymUnavailable(f"not connected to medgym ({self.server.describe()}); start the link first")
        return self._client

    async def start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._owner = asyncio.create_task(self._own(ready))
        try:
            await ready
            await wait_until_ready(self.client, self.server.read_timeout_s)
            self._rules = AgentRules(await agent_tool_specs(self.client))
        except Exception as exc:
            await self.stop()
            raise MedgymUnavailable(f"cannot connect to medgym ({self.server.describe()}): {exc}") from exc
        log.info("connected to medgym: %s", self.server.describe())

    @property
    def rules(self) -> AgentRules:
        """The agent's tools as the server published them (read when the link started)."""
        if self._rules is None:
            raise MedgymUnavailable(f"not connected to medgym ({self.server.describe()}); start the link first")
        return self._rules

    async def stop(self) -> None:
        self._closing.set()
        if self._owner is not None:
            with contextlib.suppress(Exception):
                await self._owner
            self._owner = None

    async def _own(self, ready: asyncio.Future[None]) -> None:
        try:
            async with self.server.client() as client:
                self._client = client
                ready.set_result(None)
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            else:
                log.error("the connection to medgym failed: %s", exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._client = None

    async def task_ids(self, selection: Selection) -> list[str]:
        """Every task id of a selection (listed once, then cached)."""
        if selection not in self._listed:
            self._listed[selection] = await select_tasks(self.client, selection)
        return self._listed[selection]
