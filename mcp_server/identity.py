"""Who is calling, from what the transport verified: never from a header the client chose.

- stdio: the process is the client (`local`), with no quota.
- HTTP: the authenticated principal (bearer token) and the transport's own session (the SDK's
  `Connection.session_id`, set only for a session it created and checks). Its key is
  `<principal>/<session>`; a sessionless request (the 2026-07-28 era) is `principal:<name>`, or
  anonymous (None) without a token, and must pass `episode_id` back. Quotas count per principal,
  or per TCP peer address for anonymous callers (proxy headers are not trusted). First tries and
  episodes per task count per principal across its sessions (a reconnect starts no fresh score),
  per session for anonymous callers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context

from medgym.private import secret_text
from tools.episodes import Caller

LOCAL = Caller(key="local", quota=None)


def caller_of(ctx: Context[Any, Any]) -> Caller:
    request_context = ctx.request_context
    if request_context.lifespan_context.settings.transport == "stdio":
        return LOCAL
    token = get_access_token()
    principal = token.client_id if token is not None else None
    session = getattr(getattr(request_context.session, "_connection", None), "session_id", None)
    if session:
        key: str | None = f"{principal or 'anonymous'}/{session}"
    else:
        key = f"principal:{principal}" if principal else None
    return Caller(key=key, quota=f"principal:{principal}" if principal else _peer(request_context.request),
                  scorer=f"principal:{principal}" if principal else None)


def _peer(request: Any) -> str | None:
    client = getattr(request, "client", None)
    return f"addr:{client.host}" if client is not None else None


PSEUDONYM_KEY_FILE = "pseudonym-key"


class Pseudonyms:
    """What records keep of a client key (`local`, `principal:<name>`, `<principal>/<session>`): a hash
    keyed with this medgym home's secret (`<home>/pseudonym-key`, mode 0600, made on first use), stable
    across the home's servers and restarts. A record or an export read anywhere else cannot be matched
    against guessed principal names, as a plain hash of the key could.

    Records written before the key existed hold the plain hash: `both` names a key's two forms, so a
    principal's history and the episodes it recorded then are still its own."""

    def __init__(self, secret: bytes):
        self._secret = secret

    @classmethod
    def of_home(cls, home: Path) -> Pseudonyms:
        return cls(bytes.fromhex(secret_text(home / PSEUDONYM_KEY_FILE, lambda: secrets.token_hex(32))))

    def __call__(self, key: str | None) -> str | None:
        return None if key is None else self._keyed(key)

    def both(self, key: str) -> tuple[str, str]:
        """The key's pseudonym, and the plain hash records written before the key existed hold."""
        return self._keyed(key), "c_" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def _keyed(self, key: str) -> str:
        return "c_" + hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:16]
