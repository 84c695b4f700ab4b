"""Regression tests for what a hostile client and a reward-hacking agent broke (hardening, round 2),
through the real HTTP transport and the real engine. Each names its item in SECURITY.md."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.identity import Pseudonyms
from tests.test_http_exposure import HEADERS, TOKEN, _call, _post, _session, _start, _wait

pytestmark = [pytest.mark.usefixtures("docker_ready")]
ALICE, BOB = TOKEN, TOKEN[::-1]
TASK = "npowerai/train/1"


def _data_dir(shared: Path, root: Path) -> Path:
    """The public task files, with a stand-in MIMIC-III table so that its list answers are solvable here."""
    root.mkdir()
    for dataset in shared.iterdir():
        if dataset.is_dir() and dataset.name != "mimic_iii":
            (root / dataset.name).symlink_to(dataset)
    (root / "mimic_iii").mkdir()
    (root / "mimic_iii" / "train_tasks.jsonl").symlink_to(shared / "mimic_iii" / "train_tasks.jsonl")
    (root / "mimic_iii" / "patients.csv").write_text("subject_id\n1\n")
    return root


@pytest.fixture
def server(tmp_path: Path, shared_dir: Path) -> Iterator[tuple[int, Path]]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE}\nbob {BOB}\n")
    data = _data_dir(shared_dir, tmp_path / "data")
    proc, port = _start(tmp_path, data, "127.0.0.1", {
        "MEDGYM_TOKEN_FILE": str(tokens), "MEDGYM_MAX_SESSIONS_PER_CLIENT": "4", "MEDGYM_MAX_SANDBOXES": "6",
        "MEDGYM_MAX_EPISODES_PER_CLIENT": "4", "MEDGYM_START_WAIT_S": "3"})
    _wait(proc, port, tmp_path / "server.log")
    yield port, tmp_path / "server.log"
    proc.terminate()
    assert proc.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()[-3000:]


def _sessionless(port: int, token: str | None, extra: dict[str, str] | None = None) -> Client:
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(extra or {})}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(120))
    return Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http))


def _anonymous_call(port: int, tool: str, arguments: dict[str, Any], session: str) -> dict[str, Any]:
    headers = {**HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    url = f"http://127.0.0.1:{port}/mcp"
    httpx.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, timeout=30)
    body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    text = httpx.post(url, json=body, headers=headers, timeout=60).text
    data = text.split("data: ", 1)[1] if "data: " in text else text
    return dict(json.loads(data.strip().splitlines()[0])["result"])


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


# -- 1. one string must not kill the record writer ---------------------------------------------------
MODERN_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
               "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
               "io.modelcontextprotocol/clientCapabilities": {}}


def _modern_call(port: int, token: str, tool: str, arguments: str) -> str:
    """A raw sessionless (2026-07-28) tools/call; `arguments` is JSON text, so it may hold any escape."""
    body = ('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"' + tool + '","arguments":'
            + arguments + ',"_meta":' + json.dumps(MODERN_META) + "}}")
    response = httpx.post(f"http://127.0.0.1:{port}/mcp", content=body.encode(), timeout=60, headers={
        **HEADERS, "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call", "Mcp-Name": tool})
    assert response.status_code == 200, response.text
    return response.text


async def test_a_lone_surrogate_is_stored_and_the_server_keeps_working(server: tuple[int, Path]) -> None:
    port, log = server
    async with _sessionless(port, ALICE) as client:
        episode = (await client.call_tool("get_task", {"task_id": TASK})).structured_content["episode_id"]
        answer = json.dumps({"task_id": TASK, "answer": "@", "episode_id": episode}).replace("@", "\\ud800 x")
        assert '"isError":true' in _modern_call(port, ALICE, "submit_answer", answer).replace(" ", "")
        for number in range(2, 6):  # later episodes are recorded, catalog tools answer
            assert not (await client.call_tool("get_task", {"task_id": f"npowerai/train/{number}"})).is_error
        record = str(await client.read_resource(f"medgym://episodes/{episode}"))
    assert "\ufffd x" in record
    assert "record writer" not in log.read_text()


def _read_resource(port: int, token: str, session: str, uri: str) -> str:
    body = {"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": uri}}
    response = httpx.post(f"http://127.0.0.1:{port}/mcp", json=body, timeout=30, headers={
        **HEADERS, "Authorization": f"Bearer {token}", "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    text = response.text.split("data: ", 1)[1] if "data: " in response.text else response.text
    return str(json.loads(text.strip().splitlines()[0]))


async def test_a_planted_module_cannot_steer_inspect_data(tmp_path: Path, pack_home: Path) -> None:
    from mcp_server.app import build_server
    from mcp_server.settings import Settings
    from tests.conftest import IMAGE, share_pack

    home = tmp_path / "home"
    home.mkdir()
    share_pack(home, pack_home)
    handle = build_server(Settings(home=home, image=IMAGE, pack=True, pool_size=0))
    async with Client(handle.mcp) as client:
        task = (await client.call_tool("list_tasks", {"dataset": "medgym_ehr", "limit": 1})).structured_content
        task_id = task["tasks"][0]["task_id"]
        planted = "open('/workspace/difflib.py','w').write('raise SystemExit(\"planted\")')\nprint('ok')"
        await client.call_tool("run_code", {"task_id": task_id, "code": planted})
        listing = await client.call_tool("inspect_data", {"task_id": task_id, "action": "list_tables"})
        assert not listing.is_error and "ADMISSIONS" in json.dumps(listing.structured_content["rows"])


# -- 2. identity comes from the transport, never from a header the client chose ----------------------
async def test_a_spoofed_session_header_is_not_an_identity(server: tuple[int, Path]) -> None:
    port, log = server
    alice = _session(port, ALICE)
    episode = _call(port, ALICE, "get_task", {"task_id": TASK}, alice)["structuredContent"]["episode_id"]
    _call(port, ALICE, "run_code", {"task_id": TASK, "code": "open('secret','w').write('alice')"}, alice)
    for token in (BOB,):  # another principal (anonymous callers: the next test)
        async with _sessionless(port, token, {"mcp-session-id": alice}) as mallory:
            progress = await mallory.call_tool("get_progress", {})
            assert progress.is_error or progress.structured_content["episodes_total"] == 0
            for tool, arguments in (("run_code", {"code": "print(open('secret').read())"}),
                                    ("submit_answer", {"answer": 4})):
                stolen = await mallory.call_tool(tool, {"task_id": TASK, "episode_id": episode, **arguments})
                assert stolen.is_error and "unknown episode_id" in _text(stolen)
    still = _call(port, ALICE, "run_code", {"task_id": TASK, "code": "print(open('secret').read())"}, alice)
    assert still["structuredContent"]["stdout"] == "alice\n"
    bob = _session(port, BOB)
    assert "of yours" in _read_resource(port, BOB, bob, f"medgym://episodes/{episode}")
    assert "alice" in _read_resource(port, ALICE, alice, f"medgym://episodes/{episode}")
    assert alice not in log.read_text()  # session ids are bearer capabilities: never logged


async def test_an_anonymous_caller_cannot_use_a_session_header(http_server: str) -> None:
    port = int(http_server.rsplit(":", 1)[1].split("/", 1)[0])
    session = _post(port, token=None).headers["mcp-session-id"]  # the victim's session (no tokens on this server)
    episode = _anonymous_call(port, "get_task", {"task_id": TASK}, session)["structuredContent"]["episode_id"]
    _anonymous_call(port, "run_code", {"task_id": TASK, "code": "open('secret','w').write('v')"}, session)
    async with _sessionless(port, None, {"mcp-session-id": session}) as mallory:
        stolen = await mallory.call_tool("run_code", {"task_id": TASK, "code": "print(open('secret').read())",
                                                      "episode_id": episode})
        assert stolen.is_error and "unknown episode_id" in _text(stolen)
        progress = await mallory.call_tool("get_progress", {})
        assert progress.is_error  # an anonymous caller has no progress (not the sum of all of them)


def test_an_unauthenticated_delete_ends_nothing(server: tuple[int, Path]) -> None:
    port, _ = server
    alice = _session(port, ALICE)
    _call(port, ALICE, "run_code", {"task_id": TASK, "code": "print(1)"}, alice)
    denied = httpx.delete(f"http://127.0.0.1:{port}/mcp", headers={"Mcp-Session-Id": alice}, timeout=30)
    assert denied.status_code == 401
    again = _call(port, ALICE, "run_code", {"task_id": TASK, "code": "print(2)"}, alice)
    assert again["structuredContent"]["stdout"] == "2\n"


# -- 3. quotas on what cannot be forged; catalog calls never wait for sandbox runs -------------------
def test_forwarded_for_does_not_buy_a_fresh_quota(server: tuple[int, Path]) -> None:
    port, _ = server
    alice = _session(port, ALICE)
    for number in range(1, 5):
        _call(port, ALICE, "run_code", {"task_id": f"npowerai/train/{number}", "code": "print(1)"}, alice)
    second = _session(port, ALICE)  # a fresh session of the same principal shares its quota
    refused = _call(port, ALICE, "run_code", {"task_id": "npowerai/train/9", "code": "print(1)"}, second)
    assert refused.get("isError") and "limit is 4" in refused["content"][0]["text"]


async def test_catalog_calls_do_not_wait_for_long_runs(server: tuple[int, Path]) -> None:
    port, _ = server
    async with _sessionless(port, ALICE) as alice, _sessionless(port, BOB) as bob:
        episodes = [(await bob.call_tool("get_task", {"task_id": f"npowerai/train/{n}"})).structured_content
                    ["episode_id"] for n in range(1, 5)]
        async with anyio.create_task_group() as group:
            for number, episode in enumerate(episodes, start=1):
                group.start_soon(bob.call_tool, "run_code", {"task_id": f"npowerai/train/{number}",
                                                             "code": "import time; time.sleep(8)",
                                                             "episode_id": episode})
            await anyio.sleep(3)
            started = time.monotonic()
            listing = await alice.call_tool("list_datasets", {})
            assert not listing.is_error and time.monotonic() - started < 2.0


def test_the_server_wide_sandbox_cap(server: tuple[int, Path]) -> None:
    port, _ = server
    alice, bob = _session(port, ALICE), _session(port, BOB)
    for number in range(1, 5):
        _call(port, ALICE, "run_code", {"task_id": f"npowerai/train/{number}", "code": "print(1)"}, alice)
    for number in range(5, 7):
        _call(port, BOB, "run_code", {"task_id": f"npowerai/train/{number}", "code": "print(1)"}, bob)
    refused = _call(port, BOB, "run_code", {"task_id": "npowerai/train/7", "code": "print(1)"}, bob)
    assert refused.get("isError") and "all 6 sandboxes of this server are in use" in refused["content"][0]["text"]


# -- 5. answers cannot freeze the event loop -------------------------------------------------------
async def test_a_huge_literal_answer_is_refused_quickly_and_format_errors_are_bounded(
        server: tuple[int, Path]) -> None:
    port, _ = server
    huge = "[" + ", ".join(f"'item {n}'" for n in range(100_000)) + "]"  # a Python literal, not JSON
    async with _sessionless(port, ALICE) as alice:
        page = (await alice.call_tool("list_tasks", {"dataset": "mimic_iii", "limit": 1})).structured_content
        list_task = page["tasks"][0]["task_id"]
        episode = (await alice.call_tool("get_task", {"task_id": list_task})).structured_content["episode_id"]
        started = time.monotonic()
        refused = await alice.call_tool("submit_answer", {"task_id": list_task, "answer": huge,
                                                          "episode_id": episode})
        assert refused.is_error and time.monotonic() - started < 3.0
        for _ in range(49):
            await alice.call_tool("submit_answer", {"task_id": list_task, "answer": "[po, po/ng]",
                                                    "episode_id": episode})
        capped = await alice.call_tool("submit_answer", {"task_id": list_task, "answer": "[po, po/ng]",
                                                         "episode_id": episode})
        assert capped.is_error and "malformed submissions" in _text(capped)


# -- 7, 8. sessions and connections are bounded before they hurt ----------------------------------
def test_an_initialize_flood_is_bounded_per_client(server: tuple[int, Path]) -> None:
    port, _ = server
    opened = [_post(port, token=ALICE) for _ in range(4)]
    assert all(r.status_code == 200 for r in opened)
    assert _post(port, token=ALICE).status_code == 429
    assert _post(port, token=BOB).status_code == 200  # another client is not starved


def test_half_open_connections_are_dropped(server: tuple[int, Path]) -> None:
    port, log = server
    size = log.stat().st_size
    sockets = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes its head
        sockets.append(sock)
    assert _post(port, token=ALICE).status_code == 200  # the server still answers
    time.sleep(12)
    closed = 0
    for sock in sockets:
        sock.settimeout(1)
        with contextlib.suppress(TimeoutError, OSError):
            closed += sock.recv(1) == b""
        sock.close()
    assert closed == len(sockets)
    assert log.stat().st_size - size < 20_000


# -- 9, 11, 12. bounded records and searches; a private home ------------------------------------------
async def test_refused_calls_are_not_recorded_and_long_code_is_recorded_cut(tmp_path: Path, shared_dir: Path) -> None:
    from mcp_server.app import build_server
    from mcp_server.settings import Settings
    from tests.conftest import IMAGE
    from trajectory.recorder import MAX_RECORDED_CHARS

    handle = build_server(Settings(home=tmp_path, data_dir=shared_dir, image=IMAGE, pack=False, pool_size=0))
    async with Client(handle.mcp) as client:
        view = (await client.call_tool("get_task", {"task_id": TASK})).structured_content
        await client.call_tool("run_code", {"task_id": TASK, "code": "x" * 900_000, "timeout_s": 100_000})
        long = "# " + "y" * 200_000 + "\nprint(5)"
        assert (await client.call_tool("run_code", {"task_id": TASK, "code": long})).structured_content["stdout"]
        assert handle.state is not None
        trajectory = handle.state.recorder.store.trajectory(view["episode_id"])
    assert trajectory is not None
    runs = [e for e in trajectory.events if e.tool == "run_code"]
    assert len(runs) == 1  # the refused call (timeout over the limit) left nothing
    recorded = runs[0].arguments["code"]
    assert len(recorded) < MAX_RECORDED_CHARS + 200 and "sha256" in recorded


def test_many_short_search_words_are_refused_fast(server: tuple[int, Path]) -> None:
    port, _ = server
    alice = _session(port, ALICE)
    started = time.monotonic()
    result = _call(port, ALICE, "list_tasks", {"search": " ".join(["a", "b", "c", "de", "ef"] * 40)}, alice)
    assert result.get("isError") and "at most" in result["content"][0]["text"]
    assert time.monotonic() - started < 2.0


def test_the_home_and_store_are_private(server: tuple[int, Path]) -> None:
    _, log = server
    home = log.parent / "home"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("medgym.sqlite", "medgym.sqlite-wal"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name


# -- 4. pack answers are not derivable offline ------------------------------------------------------
async def test_the_pack_seed_is_secret_and_mounts_reveal_no_host_path(tmp_path: Path) -> None:
    from mcp_server.app import build_server
    from mcp_server.settings import Settings
    from task_store.pack.seed import PUBLIC_SEED, SEED_FILE
    from tests.conftest import IMAGE

    home = tmp_path / "secret-home"
    settings = Settings(home=home, image=IMAGE, pack=True, pool_size=0)
    seed, kind = settings.seed()
    assert kind == "secret" and seed != PUBLIC_SEED
    assert stat.S_IMODE((home / SEED_FILE).stat().st_mode) == 0o600
    assert str(seed) not in str(settings.pack_path())
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        task = (await client.call_tool("list_tasks", {"dataset": "medgym_ehr", "limit": 1})).structured_content
        code = "print(open('/proc/self/mountinfo').read())"
        shown = (await client.call_tool("run_code", {"task_id": task["tasks"][0]["task_id"], "code": code}))
        mounts = shown.structured_content["stdout"]
    assert "/data/medgym_ehr" in mounts and str(home) not in mounts and "pack" not in mounts
    assert not re.search(rf"\b{seed}\b", mounts)
    assert os.environ.get("MEDGYM_PACK_SEED") in (None, "", "secret")


# -- a reconnect starts no fresh score ----------------------------------------------------------------
def test_a_new_session_of_the_same_principal_gets_no_fresh_first_try(server: tuple[int, Path]) -> None:
    port, _ = server
    task = "npowerai/train/7"

    def tool(token: str, session: str, name: str, **arguments: Any) -> dict[str, Any]:
        result = _call(port, token, name, arguments, session)
        assert not result.get("isError"), result
        return dict(result["structuredContent"])

    first = _session(port, ALICE)
    opened = tool(ALICE, first, "get_task", task_id=task)
    assert opened["ordinal"] == 1
    assert tool(ALICE, first, "submit_answer", task_id=task, answer=987654321)["episode_ended"]
    second = _session(port, ALICE)  # a new transport session of the same principal
    again = tool(ALICE, second, "get_task", task_id=task)
    assert again["ordinal"] == 2 and again["episode_id"] != opened["episode_id"]
    (row,) = [r for r in tool(ALICE, second, "get_progress")["datasets"] if r["dataset"] == "npowerai"]
    assert row["tasks_attempted"] == 1 and row["first_try_correct"] == 0  # the first try stays the score
    assert tool(BOB, _session(port, BOB), "get_task", task_id=task)["ordinal"] == 1  # its own history


def test_a_restart_starts_no_fresh_first_try(tmp_path: Path, shared_dir: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE}\nbob {BOB}\n")
    data = _data_dir(shared_dir, tmp_path / "data")
    right, wrong = "npowerai/train/7", "npowerai/train/8"

    def tool(port: int, token: str, session: str, name: str, **arguments: Any) -> dict[str, Any]:
        result = _call(port, token, name, arguments, session)
        assert not result.get("isError"), result
        return dict(result["structuredContent"])

    def progress(port: int, session: str) -> dict[str, Any]:
        rows = tool(port, ALICE, session, "get_progress")["datasets"]
        return {k: v for row in rows if row["dataset"] == "npowerai" for k, v in row.items()}

    for life in (1, 2, 3):
        proc, port = _start(tmp_path, data, "127.0.0.1", {"MEDGYM_TOKEN_FILE": str(tokens),
                                                          "MEDGYM_EPISODES_PER_TASK": "3"})
        try:
            _wait(proc, port, tmp_path / "server.log")
            session = _session(port, ALICE)
            if life == 1:  # one task abandoned (no verdict), one failed, by one session; then the server is killed
                assert tool(port, ALICE, session, "get_task", task_id=wrong)["ordinal"] == 1
                assert tool(port, ALICE, session, "get_task", task_id=right)["ordinal"] == 1
                assert tool(port, ALICE, session, "submit_answer", task_id=right, answer=987654321)["episode_ended"]
                proc.kill()  # at once: the final verdict the client has heard is on disk already
            elif life == 2:  # after a restart: the failed first try is still the score, shown before any call
                assert progress(port, session)["tasks_attempted"] == 1
                again = tool(port, ALICE, session, "get_task", task_id=right)
                assert again["ordinal"] == 2 and again["attempts_left"] == 1
                assert tool(port, ALICE, session, "get_task", task_id=wrong)["ordinal"] == 2
                assert tool(port, BOB, _session(port, BOB), "get_task", task_id=right)["ordinal"] == 1
            else:  # and the episodes-per-task cap counts the episodes of every life
                assert tool(port, ALICE, session, "get_task", task_id=right)["ordinal"] == 3
                capped = _call(port, ALICE, "reset_task", {"task_id": right}, session)
                assert capped.get("isError") and "MEDGYM_EPISODES_PER_TASK=3" in str(capped)
                row = progress(port, session)
                assert row["tasks_attempted"] == 1 and row["first_try_correct"] == 0 and row["episodes"] == 5
        finally:
            proc.terminate()
            assert proc.wait(timeout=60) == (-9 if life == 1 else 0), (tmp_path / "server.log").read_text()[-3000:]
    # the records' pseudonyms are keyed with the home's secret: no plain hash of a guessable principal name
    home = tmp_path / "home"
    key_file = home / "pseudonym-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keyed, plain = Pseudonyms.of_home(home).both("principal:alice")
    with contextlib.closing(sqlite3.connect(home / "medgym.sqlite")) as db:
        scorers = {row[0] for row in db.execute("SELECT scorer FROM episodes")}
        clients = {row[0] for row in db.execute("SELECT client FROM episodes")}
    assert keyed in scorers and plain not in scorers
    assert not {hashlib.sha256(k.encode()).hexdigest()[:16] for k in ("principal:alice", "principal:bob")} & {
        (value or "")[2:] for value in scorers | clients}
