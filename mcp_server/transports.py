"""Running the server: stdio, or streamable HTTP with uvicorn; both stop cleanly on signals."""

from __future__ import annotations

import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from mcp_server.app import ServerHandle
from mcp_server.identity import SESSION_HEADER
from mcp_server.settings import Settings

log = logging.getLogger(__name__)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _until_signal(run: Callable[[], Awaitable[None]]) -> None:
    """Run until `run` returns or SIGTERM/SIGINT/SIGHUP arrives; then unwind (lifespans clean up)."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
                async for signum in signals:
                    log.info("received signal %s, shutting down", signal.Signals(signum).name)
                    group.cancel_scope.cancel()
                    return

        group.start_soon(watch)
        await run()
        group.cancel_scope.cancel()


def serve_stdio(handle: ServerHandle) -> None:
    anyio.run(_until_signal, handle.mcp.run_stdio_async)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_app(handle: ServerHandle, settings: Settings) -> ASGIApp:
    """The streamable HTTP app at /mcp, wrapped so that ending a session ends its episodes."""
    app = handle.mcp.streamable_http_app(host=settings.host)
    return session_end_middleware(app, handle)


def session_end_middleware(app: ASGIApp, handle: ServerHandle) -> ASGIApp:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app(scope, receive, send)
        if scope.get("type") == "http" and scope.get("method") == "DELETE" and handle.state is not None:
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            if session := headers.get(SESSION_HEADER):
                await handle.state.services.episodes.end_client(f"http:{session}")

    return wrapped


def serve_http(handle: ServerHandle, settings: Settings) -> None:
    import uvicorn

    if not is_loopback(settings.host):
        log.warning("serving on %s: anyone who can reach this address can run code in sandboxes", settings.host)
    config = uvicorn.Config(http_app(handle, settings), host=settings.host, port=settings.port,
                            log_level=settings.log_level.lower(), lifespan="on", log_config=None)
    server = uvicorn.Server(config)
    log.info("medgym MCP endpoint: http://%s:%d/mcp", settings.host, settings.port)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the previous handler:
    # make that handler a no-op so a clean shutdown exits with status 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
