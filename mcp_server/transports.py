"""Running the server: stdio, or streamable HTTP with uvicorn; both stop cleanly on signals."""

from __future__ import annotations

import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings

from mcp_server.app import ServerHandle
from mcp_server.auth import AuthConfigError, load_tokens
from mcp_server.http_guard import RepeatFilter, SessionGuard, guarded_protocol
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


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection for every bind address (the SDK drops it for non-loopback ones)."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if not is_loopback(settings.host) and settings.host not in ("0.0.0.0", "::"):
        names.append(settings.host)
    names += [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names] + names,
        allowed_origins=[f"{scheme}://{name}:*" for name in names for scheme in ("http", "https")]
        + [f"{scheme}://{name}" for name in names for scheme in ("http", "https")],
    )


def http_app(handle: ServerHandle, settings: Settings) -> ASGIApp:
    """The streamable HTTP app at /mcp, with per-client session bounds; ending a session ends its episodes."""
    app = handle.mcp.streamable_http_app(host=settings.host, transport_security=transport_security(settings),
                                         max_request_body_size=settings.max_request_bytes)
    guarded = SessionGuard(app, handle.mcp.session_manager, settings.max_sessions_per_client)
    return session_end_middleware(guarded, handle)


def check_exposure(settings: Settings) -> None:
    """Refuse to serve a non-loopback address without bearer tokens."""
    if not is_loopback(settings.host) and not load_tokens(settings):
        raise AuthConfigError(
            f"refusing to serve HTTP on {settings.host} without authentication: set MEDGYM_TOKEN (or "
            "MEDGYM_TOKEN_FILE) to a secret of at least 16 characters, or bind 127.0.0.1")


SESSION_HEADER = "mcp-session-id"


def session_end_middleware(app: ASGIApp, handle: ServerHandle) -> ASGIApp:
    """When the SDK accepts a DELETE that ends a session (2xx), end that session's episodes."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "DELETE":
            await app(scope, receive, send)
            return
        status: list[int] = []

        async def watch(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 0)))
            await send(message)

        await app(scope, receive, watch)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        session = headers.get(SESSION_HEADER)
        if session and status and 200 <= status[0] < 300 and handle.state is not None:
            await handle.state.services.episodes.end_session(session)

    return wrapped


def serve_http(handle: ServerHandle, settings: Settings) -> None:
    import uvicorn

    check_exposure(settings)
    config = uvicorn.Config(http_app(handle, settings), host=settings.host, port=settings.port,
                            log_level=settings.log_level.lower(), lifespan="on", log_config=None,
                            proxy_headers=False,  # X-Forwarded-For is client-chosen: never an identity
                            http=guarded_protocol(settings.max_connections), timeout_keep_alive=5)
    for name in ("uvicorn.error", "uvicorn.access", "mcp.server.streamable_http_manager"):
        logging.getLogger(name).addFilter(RepeatFilter())
    if settings.log_level != "DEBUG":  # the SDK logs session ids (bearer capabilities) at INFO
        for name in ("mcp.server.streamable_http_manager", "mcp.server.streamable_http"):
            logging.getLogger(name).setLevel(logging.WARNING)
    server = uvicorn.Server(config)
    log.info("medgym MCP endpoint: http://%s:%d/mcp", settings.host, settings.port)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the previous handler:
    # make that handler a no-op so a clean shutdown exits with status 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
