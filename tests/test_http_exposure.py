"""HTTP exposure: bearer tokens, refusal to serve off loopback without one, DNS-rebinding protection
on every bind, request size limits and per-client episode quotas."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IMAGE, free_port

MEDGYM = str(Path(sys.executable).parent / "medgym")
TOKEN = "test-token-0123456789abcdef"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _start(tmp_path: Path, shared: Path, host: str, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDGYM_TOKEN")}
    env.update({"MEDGYM_HOME": str(tmp_path / "home"), "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0",
                "MEDGYM_POOL_SIZE": "0", **extra})
    proc = subprocess.Popen([MEDGYM, "serve", "--transport", "http", "--host", host, "--port", str(port),
                             "--data-dir", str(shared)], env=env, stderr=(tmp_path / "server.log").open("wb"))
    return proc, port


def _wait(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)


@pytest.fixture
def public_server(tmp_path: Path, shared_dir: Path) -> Iterator[int]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# name token\nalice {TOKEN}\nbob {TOKEN[::-1]}\n")
    proc, port = _start(tmp_path, shared_dir, "0.0.0.0", {"MEDGYM_TOKEN_FILE": str(tokens),
                                                          "MEDGYM_MAX_EPISODES_PER_CLIENT": "3"})
    _wait(proc, port, tmp_path / "server.log")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_refuses_a_public_bind_without_a_token(tmp_path: Path, shared_dir: Path) -> None:
    proc, _ = _start(tmp_path, shared_dir, "0.0.0.0", {})
    assert proc.wait(timeout=30) == 1
    assert "without authentication" in (tmp_path / "server.log").read_text()


def _post(port: int, body: Any = INIT, token: str | None = TOKEN, host: str | None = None,
          content: bytes | None = None) -> httpx.Response:
    headers = dict(HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if host:
        headers["Host"] = host
    url = f"http://127.0.0.1:{port}/mcp"
    if content is not None:
        return httpx.post(url, content=content, headers=headers, timeout=30)
    return httpx.post(url, json=body, headers=headers, timeout=30)


def test_bearer_tokens_are_required(public_server: int) -> None:
    assert _post(public_server, token=None).status_code == 401
    assert _post(public_server, token="wrong-token-0123456789").status_code == 401
    assert _post(public_server).status_code == 200
    assert _post(public_server, token=TOKEN[::-1]).status_code == 200


def test_dns_rebinding_protection_on_a_public_bind(public_server: int) -> None:
    assert _post(public_server, host="evil.example").status_code in (403, 421)
    assert _post(public_server, host=f"localhost:{public_server}").status_code == 200


def test_request_size_limit(public_server: int) -> None:
    huge = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    assert _post(public_server, content=huge).status_code == 413


def _call(port: int, token: str, tool: str, arguments: dict[str, Any], session: str | None = None) -> dict[str, Any]:
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["Mcp-Session-Id"] = session
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    response = httpx.post(f"http://127.0.0.1:{port}/mcp", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    text = response.text
    data = text.split("data: ", 1)[1] if "data: " in text else text  # an SSE event or plain JSON
    return dict(json.loads(data.strip().splitlines()[0])["result"])


def _session(port: int, token: str) -> str:
    response = _post(port, token=token)
    session = response.headers.get("mcp-session-id")
    assert session
    httpx.post(f"http://127.0.0.1:{port}/mcp", headers={**HEADERS, "Authorization": f"Bearer {token}",
               "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"},
               json={"jsonrpc": "2.0", "method": "notifications/initialized"}, timeout=30)
    return session


def test_per_client_sandbox_quota(public_server: int, docker_ready: None) -> None:
    alice = _session(public_server, TOKEN)
    for number in range(1, 4):
        result = _call(public_server, TOKEN, "run_code", {"task_id": f"npowerai/train/{number}", "code": "print(1)"},
                       alice)
        assert not result.get("isError"), result
    refused = _call(public_server, TOKEN, "run_code", {"task_id": "npowerai/train/9", "code": "print(1)"}, alice)
    assert refused.get("isError") and "limit is 3" in refused["content"][0]["text"]
    bob = _session(public_server, TOKEN[::-1])  # another client is not starved by alice
    result = _call(public_server, TOKEN[::-1], "run_code", {"task_id": "npowerai/train/9", "code": "print(1)"}, bob)
    assert not result.get("isError"), result
    # finishing an episode frees a place
    done = _call(public_server, TOKEN, "submit_answer", {"task_id": "npowerai/train/1", "answer": 4}, alice)
    assert not done.get("isError"), done
    result = _call(public_server, TOKEN, "run_code", {"task_id": "npowerai/train/9", "code": "print(1)"}, alice)
    assert not result.get("isError"), result
