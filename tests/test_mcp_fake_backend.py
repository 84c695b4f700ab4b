"""The MCP surface in-process on the FakeBackend: tool flows whose subject is not Docker, in seconds.

The server is the real one (`build_server`: registrar, lifespan, warm pool, episodes, recorder);
only its sandbox backend is replaced (`fake_backend` fixture). Isolation, limits and the sandbox
image are tested on Docker elsewhere (test_mcp_server, test_hostile, test_sandbox_docker).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from evaluation.envs import rules
from evaluation.runner import run_episode
from evaluation.session import EpisodeSession
from mcp_server.app import ServerHandle, build_server
from mcp_server.settings import Settings
from sandbox.limits import Limits
from tests.fake_backend import FakeBackend, FakeBackendConfig, FakeSandbox
from tests.mcp_calls import call_error, call_ok
from tools import execution, submission
from trajectory.rundir import RunDir

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CALC = "medcalcbench/test/6"  # accepted range [79.74205, 88.13595]


@pytest.fixture
async def served(settings: Settings, fake_backend: FakeBackendConfig) -> AsyncIterator[tuple[ServerHandle, Client]]:
    handle = build_server(settings.model_copy(update={"pool_size": 1}))
    async with Client(handle.mcp) as client:
        yield handle, client
    assert fake_backend.engine.running() == [], "the server left sandboxes behind at shutdown"


def _backend(handle: ServerHandle) -> FakeBackend:
    assert handle.state is not None and isinstance(handle.state.backend, FakeBackend)
    return handle.state.backend


def _sandbox(handle: ServerHandle, episode_id: str) -> FakeSandbox:
    assert handle.state is not None
    episode = handle.state.services.episodes.get(episode_id)
    assert episode is not None and isinstance(episode.sandbox, FakeSandbox)
    return episode.sandbox


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await anyio.sleep(0.02)


async def test_get_run_submit_reset(served: tuple[ServerHandle, Client]) -> None:
    handle, client = served
    view = await call_ok(client, "get_task", task_id=CALC)
    run = await call_ok(client, "run_code", task_id=CALC, code="open('notes.txt', 'w').write('kept')\nprint(83.9)")
    assert run["stdout"] == "83.9\n" and run["exit_code"] == 0 and run["episode_id"] == view["episode_id"]
    again = await call_ok(client, "run_code", task_id=CALC, code="print(open('notes.txt').read())")
    assert again["stdout"] == "kept\n"  # one sandbox per episode: files persist
    box = _sandbox(handle, view["episode_id"])
    verdict = await call_ok(client, "submit_answer", task_id=CALC, answer=83.9)
    assert verdict["correct"] and verdict["episode_ended"] and verdict["attempts_left"] == 0
    await _until(lambda: box.closed)  # the ended episode's sandbox is destroyed
    assert "has ended" in await call_error(client, "run_code", task_id=CALC, code="print(1)")
    fresh = await call_ok(client, "reset_task", task_id=CALC)
    listing = await call_ok(client, "run_code", task_id=CALC, code="import os\nprint(os.listdir('.'))")
    assert listing["stdout"] == "[]\n" and listing["episode_id"] == fresh["episode_id"]
    progress = await call_ok(client, "get_progress")
    assert progress["episodes_total"] == 2 and progress["datasets"][0]["first_try_correct"] == 1


async def test_the_warm_pool_serves_first_runs(settings: Settings, fake_backend: FakeBackendConfig) -> None:
    # the server is built in the test's own task: the start-up work runs in worker threads, which
    # pytest-asyncio would stop with a fixture's finished set-up task (a server runs in one root task)
    handle = build_server(settings.model_copy(update={"pool_size": 1}))
    async with Client(handle.mcp) as client:
        assert handle.state is not None
        pool = handle.state.pool
        await _until(lambda: pool.idle_count() == 1)  # warmed at start-up (no data mounts)
        await call_ok(client, "run_code", task_id=CALC, code="print('first')")  # a miss: this kind keeps one more
        await _until(lambda: pool.idle_count() >= 1)
        hits = pool.hits
        run = await call_ok(client, "run_code", task_id="medcalcbench/test/13", code="print('warm')")
        assert run["stdout"] == "warm\n" and pool.hits == hits + 1
        await _until(lambda: pool.idle_count() >= 1)  # refilled


async def test_timeouts_and_output_caps_reach_the_caller(settings: Settings, fake_backend: FakeBackendConfig) -> None:
    limits = Limits(max_output_bytes=2048, default_timeout_s=5, max_timeout_s=5)
    async with Client(build_server(settings.model_copy(update={"limits": limits, "pool_size": 0})).mcp) as client:
        spin = await call_ok(client, "run_code", task_id=CALC, code="while True: pass", timeout_s=0.5)
        assert spin["timed_out"] and spin["limits_hit"] == ["timeout"] and spin["exit_code"] < 0
        flood = await call_ok(client, "run_code", task_id=CALC, code="print('z' * 100_000)")
        assert flood["output_truncated"] and "output" in flood["limits_hit"] and len(flood["stdout"]) < 2200
        assert "timeout_s" in await call_error(client, "run_code", task_id=CALC, code="1", timeout_s=6)


async def test_a_lost_sandbox_is_replaced_on_the_next_run(served: tuple[ServerHandle, Client]) -> None:
    handle, client = served
    first = await call_ok(client, "run_code", task_id=CALC, code="open('notes.txt', 'w').write('x')")
    _sandbox(handle, first["episode_id"]).lose()
    message = await call_error(client, "run_code", task_id=CALC, code="print(1)")
    assert "sandbox was lost" in message and "/workspace are gone" in message
    again = await call_ok(client, "run_code", task_id=CALC, code="import os\nprint(os.listdir('.'))")
    assert again["stdout"] == "[]\n" and again["episode_id"] == first["episode_id"]


async def test_without_an_engine_tasks_are_served_and_run_code_says_why(
    settings: Settings, fake_backend: FakeBackendConfig
) -> None:
    fake_backend.unavailable = True
    async with Client(build_server(settings).mcp) as client:
        assert (await call_ok(client, "list_tasks", dataset="medcalcbench", limit=1))["tasks"]
        message = await call_error(client, "run_code", task_id=CALC, code="print(1)")
        assert "medgym server problem" in message and "could not start a sandbox" in message
        verdict = await call_ok(client, "submit_answer", task_id=CALC, answer=12)  # scoring needs no sandbox
        assert verdict["correct"] is False


async def test_long_runs_report_progress(served: tuple[ServerHandle, Client], monkeypatch: pytest.MonkeyPatch) -> None:
    _, client = served
    monkeypatch.setattr(execution, "PROGRESS_INTERVAL_S", 0.2)
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    arguments = {"task_id": CALC, "code": "import time\ntime.sleep(0.9)\nprint('done')", "timeout_s": 30}
    result = await client.call_tool("run_code", arguments, progress_callback=on_progress)
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["stdout"] == "done\n"
    running = [u for u in updates if "running" in (u[2] or "")]  # (after any catalog-wait notices)
    assert len(running) >= 2 and running[0][0] == pytest.approx(0.2) and running[0][1] == 30


async def test_an_internal_error_is_a_server_problem_logged_with_its_traceback(
    served: tuple[ServerHandle, Client], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    # e.g. CPython 3.11's "AST constructor recursion depth mismatch" from two threads parsing at once
    # (medgym.pyast), which reached the client as the SDK's bare "Error executing tool submit_answer"
    _, client = served
    failures = [SystemError("AST constructor recursion depth mismatch (before=33, after=27)")]
    score = submission._score

    def failing_once(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return score(*args)

    monkeypatch.setattr(submission, "_score", failing_once)
    await call_ok(client, "get_task", task_id=CALC)
    message = await call_error(client, "submit_answer", task_id=CALC, answer=83.9)
    assert "medgym server problem" in message and "internal error (SystemError)" in message
    assert rules.after_call("submit_answer", {"error": message}, True) == rules.Step(None, True, "error")
    assert "recursion depth" not in message  # the details are the server's: in its log only
    logged = [r for r in caplog.records if r.name == "mcp_server.registrar" and r.exc_info]
    assert logged and "submit_answer" in logged[0].getMessage() and "recursion depth" in caplog.text
    verdict = await call_ok(client, "submit_answer", task_id=CALC, answer=83.9)  # the failure used no attempt
    assert verdict["correct"] and verdict["attempts_used"] == 1

    # a scripted client's row says the server failed (an error), not that the agent did not submit
    failures.append(SystemError("again"))

    async def submits(session: EpisodeSession) -> None:
        await session.submit(83.9)

    run_dir = RunDir(tmp_path / "run")
    run_dir.create()
    row = await run_episode(client, submits, {"kind": "test"}, CALC, 0, run_dir, [])
    assert not row.submitted and row.error is not None
    assert row.error.startswith("submit_answer: Error executing tool submit_answer: medgym server problem")


async def test_a_submission_whose_reply_was_lost_is_never_retried(served: tuple[ServerHandle, Client],
                                                                   tmp_path: Path) -> None:
    _, client = served
    call_tool = client.call_tool

    async def reply_lost(name: str, arguments: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        result = await call_tool(name, arguments, *args, **kwargs)
        if name == "submit_answer":  # the server scored it; the connection died before the reply came
            raise anyio.BrokenResourceError("the connection was lost")
        return result

    async def submits(session: EpisodeSession) -> None:
        await session.submit(83.9)

    async def gives_up(session: EpisodeSession) -> None:
        await session.submit(83.9)  # answered: the agent's later failure leaves no unknown verdict
        raise RuntimeError("the agent crashed")

    run_dir = RunDir(tmp_path / "run")
    run_dir.create()
    client.call_tool = reply_lost  # type: ignore[method-assign]
    lost = await run_episode(client, submits, {"kind": "test"}, CALC, 0, run_dir, [])
    assert lost.error is not None and not lost.submitted and lost.verdict_unknown and not lost.retryable
    client.call_tool = call_tool  # type: ignore[method-assign]
    crashed = await run_episode(client, gives_up, {"kind": "test"}, CALC, 1, run_dir, [])
    assert crashed.error == "RuntimeError: the agent crashed" and crashed.submitted and not crashed.retryable
    before = await run_episode(client, lambda session: _raise(), {"kind": "test"}, CALC, 2, run_dir, [])
    assert before.error is not None and not before.verdict_unknown and before.retryable


async def _raise() -> None:
    raise RuntimeError("failed before any call")


def test_only_the_servers_own_message_is_a_server_problem() -> None:
    own = "Error executing tool run_code: medgym server problem (not caused by your input): could not start"
    assert rules.is_server_problem("run_code", own) and rules.is_server_problem("run_code", own.split(": ", 1)[1])
    assert rules.is_server_problem("submit_answer", "Error executing tool submit_answer")  # the SDK's crash
    echoed = "Error executing tool get_task: unknown task 'medgym server problem'"  # an agent's input, echoed
    assert not rules.is_server_problem("get_task", echoed) and not rules.is_server_problem("run_code", None)
    assert not rules.is_server_problem("get_task", own)  # another tool's prefix
    assert rules.after_call("run_code", {"error": echoed}, True).outcome == "running"
