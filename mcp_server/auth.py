"""Bearer-token authentication for the HTTP transport (static tokens, compared in constant time).

Tokens come from `MEDGYM_TOKEN` (principal "default") and/or `MEDGYM_TOKEN_FILE` (one per line:
`token` or `name token`); never from the command line. Serving HTTP on a non-loopback address
without a token is refused.
"""

from __future__ import annotations

import hmac

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from mcp_server.settings import Settings
from medgym.errors import ConfigurationError


class AuthConfigError(ConfigurationError):
    """The token configuration is missing or unreadable (the message says how to fix it)."""


def load_tokens(settings: Settings) -> dict[str, str]:
    """token -> principal name."""
    tokens: dict[str, str] = {}
    if settings.token is not None and (secret := settings.token.get_secret_value().strip()):
        if len(secret) < 16:
            raise AuthConfigError("MEDGYM_TOKEN must have at least 16 characters")
        tokens[secret] = "default"
    if settings.token_file is not None:
        try:
            lines = settings.token_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise AuthConfigError(f"MEDGYM_TOKEN_FILE {settings.token_file}: {exc.strerror}") from None
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) > 2:
                raise AuthConfigError(f"MEDGYM_TOKEN_FILE line {number}: expected 'token' or 'name token'")
            name, token = (parts[0], parts[1]) if len(parts) == 2 else (f"token{number}", parts[0])
            if len(token) < 16:
                raise AuthConfigError(f"MEDGYM_TOKEN_FILE line {number}: tokens must have at least 16 characters")
            tokens[token] = name
    return tokens


class StaticTokenVerifier:
    """`TokenVerifier` over a fixed set of tokens."""

    def __init__(self, tokens: dict[str, str]):
        self._tokens = dict(tokens)

    async def verify_token(self, token: str) -> AccessToken | None:
        for known, name in self._tokens.items():
            if hmac.compare_digest(token.encode(), known.encode()):
                return AccessToken(token=token, client_id=name, scopes=[])
        return None


def auth_settings(settings: Settings) -> AuthSettings:
    base = f"http://{settings.host}:{settings.port}"
    return AuthSettings(issuer_url=base, resource_server_url=f"{base}/mcp", required_scopes=None)
