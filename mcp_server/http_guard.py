"""Limits on what HTTP clients can hold before and after authentication.

- Connections: a connection must send a complete request head within `HEADER_TIMEOUT_S`, and at
  most `max_connections` are open at once (beyond that a new connection is closed at once), so
  half-open connections (slowloris) cannot exhaust file descriptors.
- Sessions: one client (its bearer token, or its TCP peer address when anonymous) holds at most
  `max_sessions_per_client` stateful sessions (429 beyond), and a session that made no request
  after its opening handshake within `UNUSED_SESSION_S` is closed, so a flood of `initialize`
  requests cannot fill the server's session table.
- Logs: a repeated warning (e.g. uvicorn's "Invalid HTTP request received.") is logged at most a
  few times a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0
UNUSED_SESSION_S = 60.0
HANDSHAKE_REQUESTS = 2  # initialize and notifications/initialized
SESSION_HEADER = b"mcp-session-id"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a request-head timeout and a connection cap."""

    max_connections = 1000
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.close()
            return
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._head_timeout)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and self._head_timer is not None:  # a complete request head arrived
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(max_connections: int) -> type[GuardedH11Protocol]:
    return type("GuardedH11", (GuardedH11Protocol,), {"max_connections": max_connections})


@dataclass
class _Session:
    client: str
    opened: float = field(default_factory=time.monotonic)
    requests: int = 0


class SessionGuard:
    """ASGI middleware bounding each client's stateful sessions (see the module docstring)."""

    def __init__(self, app: Any, session_manager: Any, max_sessions_per_client: int):
        self._app = app
        self._manager = session_manager
        self._cap = max_sessions_per_client
        self._sessions: dict[str, _Session] = {}
        self._last_sweep = time.monotonic()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        session = headers.get(SESSION_HEADER, b"").decode("latin-1")
        if session:
            if (known := self._sessions.get(session)) is not None:
                known.requests += 1
            await self._app(scope, receive, send)
            return
        client = _client_key(scope, headers)
        await self._sweep()  # a new session may be opened: make room by closing unused ones first
        if scope.get("method") == "POST" and self._open_sessions(client) >= self._cap:
            await _reply(send, 429, f"this client already holds {self._cap} open MCP sessions; end some (HTTP "
                                    "DELETE) or reuse one")
            return
        await self._app(scope, receive, self._watch(send, client))

    def _watch(self, send: Any, client: str) -> Any:
        async def watching(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                opened = dict(message.get("headers") or []).get(SESSION_HEADER)
                if opened:
                    self._sessions[opened.decode("latin-1")] = _Session(client, requests=1)
            await send(message)

        return watching

    def _open_sessions(self, client: str) -> int:
        live = self._live()
        for session_id in [s for s in self._sessions if s not in live]:
            del self._sessions[session_id]
        return sum(1 for s in self._sessions.values() if s.client == client)

    def _live(self) -> dict[str, Any]:
        instances: dict[str, Any] = getattr(self._manager, "_server_instances", {})
        return instances

    async def _sweep(self) -> None:
        """Close sessions that made no request after the handshake within `UNUSED_SESSION_S` (checked
        when new sessions are being opened, at most every few seconds)."""
        now = time.monotonic()
        if now - self._last_sweep < 5.0:
            return
        self._last_sweep = now
        live = self._live()
        closed = 0
        for session_id, record in list(self._sessions.items()):
            transport = live.get(session_id)
            if transport is None:
                self._sessions.pop(session_id, None)
            elif record.opened < now - UNUSED_SESSION_S and record.requests <= HANDSHAKE_REQUESTS:
                self._sessions.pop(session_id, None)
                await self._manager._discard_session(session_id, transport)
                closed += 1
        if closed:
            log.info("closed %d MCP session(s) that made no request after opening", closed)


def _client_key(scope: dict[str, Any], headers: dict[bytes, bytes]) -> str:
    authorization = headers.get(b"authorization")
    if authorization:
        return "token:" + hashlib.sha256(authorization).hexdigest()[:16]
    peer = scope.get("client") or ("?", 0)
    return f"addr:{peer[0]}"


async def _reply(send: Any, status: int, message: str) -> None:
    body = ('{"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "' + message + '"}}').encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RepeatFilter(logging.Filter):
    """Lets the same message through at most `per_minute` times a minute."""

    def __init__(self, per_minute: int = 5):
        super().__init__()
        self._per_minute = per_minute
        self._seen: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        key = f"{record.name}:{record.msg}"
        start, count = self._seen.get(key, (now, 0))
        if now - start > 60:
            start, count = now, 0
        self._seen[key] = (start, count + 1)
        if len(self._seen) > 1000:
            self._seen.clear()
        return count < self._per_minute
