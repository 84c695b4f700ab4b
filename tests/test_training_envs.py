"""Training environments, driven by the frameworks' own clients against a real medgym (Docker).

OpenEnv: `python -m evaluation.envs.openenv_env` is served and driven with OpenEnv's own
`MCPToolClient` (and its sync wrapper): rewards equal the server's verdicts (oracle 1, wrong 0,
unscorable None), the turn limit ends an episode, concurrent sessions are isolated, the agent
cannot reach other tools or episodes, no observation holds ground truth, and nothing is left running.

verifiers: the `evaluation.envs.verifiers_env` taskset is run by verifiers' own `eval` entry point
against the scripted chat-completions server (tests/fake_chat.py); rewards equal the verdicts. It
needs the `verifiers` extra, which pins mcp 2.0.0 and so lives in its own virtualenv (`.venv-vf`);
in the main one it is skipped.

Both adapters take the agent's tools from the server's published specs and name GRPO groups: the
episodes of one group share a `group_id` in the server's records.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mcp_server.settings import Settings
from task_store.store import TaskStore
from tests.conftest import IMAGE, free_port
from tests.leaks import assert_no_ground_truth, ground_truth_strings

pytestmark = pytest.mark.usefixtures("docker_ready")
ROOT = Path(__file__).resolve().parents[1]
UNSCORABLE_DATASETS = ("biocoder", "biodsbench", "ehrshot", "mimic_extract", "medagentbench")
VALUE_DATASETS = ("medgym_ehr", "medgym_calc", "medgym_power")  # answers scored without sandbox state


@dataclass
class Medgym:
    """A medgym home with the built-in pack and the public MedAgentGym files, and its task store."""

    home: Path
    shared: Path
    store: TaskStore

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "MEDGYM_HOME": str(self.home), "MEDGYM_DATA_DIR": str(self.shared),
                "MEDGYM_IMAGE": IMAGE, "MEDGYM_POOL_SIZE": "2", "PYTHONPATH": str(ROOT), **extra}

    def sample(self, per_dataset: int) -> list[str]:
        from medgym_cli.certify import select

        return [t.task_id for d in VALUE_DATASETS for t in select(self.store, d, per_dataset)]

    def unscorable(self) -> str:
        from task_store.store import TaskFilter

        for dataset in UNSCORABLE_DATASETS:
            for row in self.store.query(TaskFilter(dataset=dataset), limit=50).tasks:
                if not self.store.get(row.task_id).scorable and self.store.availability(dataset).solvable:
                    return row.task_id
        raise AssertionError("no unscorable task in the public MedAgentGym files")

    def unsolvable(self) -> str:
        """A scorable task whose data is not here (MIMIC-III's tables are not public): never scored."""
        from task_store.store import TaskFilter

        assert not self.store.availability("mimic_iii").solvable
        return self.store.query(TaskFilter(dataset="mimic_iii"), limit=1).tasks[0].task_id

    def records(self, since: float, ended: Collection[str] = ()) -> list[Any]:
        """The server's records of the episodes started since `since`, once those of `ended` are stored
        as ended (a running server writes its records in the background, so they can lag a reply)."""
        from trajectory.store import RecordStore

        deadline = time.monotonic() + 15
        while True:
            store = RecordStore(self.home / "medgym.sqlite")
            try:
                found = [e for e in store.episodes() if e.started_at >= since]
            finally:
                store.close()
            done = {e.episode_id for e in found if e.outcome != "active"}
            if set(ended) <= done or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def secrets(self, task_id: str) -> set[str]:
        """Distinctive ground-truth strings of a task (answer key values, reference solution)."""
        key = self.store.answer_key(task_id).model_dump()
        values = [v for k, v in key.items() if k not in ("kind", "reason")]  # reason: why unscorable (shown)
        found = {str(x) for v in values for x in (v if isinstance(v, list) else [v]) if len(str(x)) >= 5}
        found |= ground_truth_strings(self.shared, task_id)
        solution = (self.store.reference_solution(task_id) or "").strip()
        return found | ({solution[:200]} if solution else set())


@pytest.fixture(scope="module")
def medgym(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Medgym:
    from task_store.pack.build import ensure_pack

    home = tmp_path_factory.mktemp("train-home")
    ensure_pack(home)
    data = _data_with_an_unscorable_dataset(tmp_path_factory.mktemp("train-data"), shared_dir)
    settings = Settings(home=home, data_dir=data)
    return Medgym(home, data, TaskStore.open(home / "medgym.sqlite", settings.roots()))


def _data_with_an_unscorable_dataset(root: Path, shared: Path) -> Path:
    """The public files, plus an EHRSHOT folder with its features and training labels but without the
    hidden test labels: its tasks can be worked on here but not scored (every public task that can be
    worked on here is scorable)."""
    for folder in shared.iterdir():
        if folder.is_dir() and folder.name != "ehrshot":
            (root / folder.name).symlink_to(folder)
    ehrshot = root / "ehrshot"
    ehrshot.mkdir()
    (ehrshot / "task.jsonl").symlink_to(shared / "ehrshot" / "task.jsonl")
    for name in ("clmbr_train.pkl", "clmbr_test.pkl"):
        (ehrshot / name).write_bytes(b"")
    for line in (shared / "ehrshot" / "task.jsonl").read_text().splitlines():
        if line.strip():
            task = root / "ehrshot" / json.loads(line)["task_name"]
            task.mkdir(exist_ok=True)
            (task / "train_labels.csv").write_text("patient_id,prediction_time,value\n")
    return root


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)


def _sandboxes_of(parent_pid: int) -> set[str]:
    """Sandbox containers owned by a child process of `parent_pid` (the medgym it spawned)."""
    from sandbox.docker_backend import DockerBackend
    from sandbox.labels import OWNER

    owned = set()
    for container in DockerBackend("tests").managed_containers():
        owner_pid = (container.get("Labels") or {}).get(OWNER, "::").split(":")[1]
        status = Path(f"/proc/{owner_pid}/status")
        if owner_pid.isdigit() and status.exists() and f"PPid:\t{parent_pid}\n" in status.read_text():
            owned.add(container["Id"])
    return owned


@pytest.fixture(scope="module")
def openenv_url(medgym: Medgym, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The medgym OpenEnv server, spawning `medgym serve` over stdio; stopped and checked at the end."""
    pytest.importorskip("openenv", reason="the openenv extra is not installed")
    port, log = free_port(), tmp_path_factory.mktemp("openenv") / "server.log"
    command = [sys.executable, "-m", "evaluation.envs.openenv_env", "--port", str(port), "--max-sessions", "8"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=medgym.env(), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    _wait_for_port(port, proc, log)
    yield f"http://127.0.0.1:{port}"
    sandboxes = _sandboxes_of(proc.pid)
    assert sandboxes, "expected the spawned medgym's warm sandboxes"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    time.sleep(2)
    from sandbox.docker_backend import DockerBackend

    left = sandboxes & {c["Id"] for c in DockerBackend("tests").managed_containers()}
    assert not left, f"sandboxes left behind by the environment server's medgym: {sorted(left)}"


def _client(url: str) -> Any:
    from evaluation.envs.openenv_client import MedgymEnv

    return MedgymEnv(base_url=url, message_timeout_s=300)


def _call(tool: str, **arguments: Any) -> Any:
    from openenv.core.env_server.mcp_types import CallToolAction

    return CallToolAction(tool_name=tool, arguments=arguments)


def _last_line(step: Any) -> Any:
    return json.loads(str(step.observation.result["stdout"]).strip().splitlines()[-1])


def _seen(*steps: Any) -> str:
    """What the agent saw, less the tool specs (the server's, whose `answer` parameter the leak check would flag)."""
    shown = [s.observation.model_dump(mode="json") for s in steps]
    for observation in shown:
        specs = observation.pop("tool_specs", None)
        assert specs is None or [t["function"]["name"] for t in specs] == ["run_code", "inspect_data", "submit_answer"]
    return json.dumps(shown) + json.dumps([{"reward": s.reward, "done": s.done} for s in steps])


async def _oracle(url: str, medgym: Medgym, task_id: str) -> tuple[Any, list[Any]]:
    """Run the reference solution and submit its last line; returns (submit step, what the agent saw)."""
    async with _client(url) as env:
        opened = await env.reset(task_id=task_id)
        ran = await env.step(_call("run_code", code=medgym.store.reference_solution(task_id), timeout_s=120))
        assert ran.reward is None and not ran.done and ran.observation.result["exit_code"] == 0, ran
        submitted = await env.step(_call("submit_answer", answer=_last_line(ran)))
        return submitted, [opened, submitted]


async def test_openenv_oracle_rewards_equal_the_servers_verdicts(openenv_url: str, medgym: Medgym) -> None:
    from openenv.core.env_server.mcp_types import CallToolObservation

    ids = medgym.sample(2)
    assert {i.split("/")[0] for i in ids} == set(VALUE_DATASETS)
    started, episodes = time.time(), {}
    for task_id in ids:
        submitted, seen = await _oracle(openenv_url, medgym, task_id)
        verdict = submitted.observation.result
        assert isinstance(submitted.observation, CallToolObservation)
        assert verdict["correct"] is True and verdict["episode_ended"] is True, (task_id, verdict)
        assert submitted.reward == verdict["score"] == 1.0 and submitted.done
        assert submitted.observation.metadata["outcome"] == "correct"
        assert_no_ground_truth(_seen(*seen), medgym.secrets(task_id))  # the statement and the verdict
        episodes[submitted.observation.metadata["episode_id"]] = submitted.reward
    recorded = {e.episode_id: e.outcome for e in medgym.records(started, ended=episodes)}
    assert {episode: recorded[episode] for episode in episodes} == dict.fromkeys(episodes, "correct")


async def test_openenv_reset_lists_the_agent_tools_and_a_wrong_answer_scores_zero(
        openenv_url: str, medgym: Medgym) -> None:
    task_id = medgym.sample(1)[0]
    async with _client(openenv_url) as env:
        opened = await env.reset(task_id=task_id)
        tools = await env.list_tools()
        assert [t.name for t in tools] == ["run_code", "inspect_data", "submit_answer"]
        published = {s["function"]["name"]: s["function"]["parameters"] for s in opened.observation.tool_specs}
        assert {t.name: t.input_schema for t in tools} == published  # the server's own specs
        assert set(published["submit_answer"]["properties"]) == {"answer", "dry_run"}
        checked = await env.step(_call("submit_answer", answer=-987654.321, dry_run=True))
        assert checked.observation.result["correct"] is None and checked.reward is None and not checked.done
        assert opened.observation.task_id == task_id and opened.reward is None and not opened.done
        assert [m["role"] for m in opened.observation.messages] == ["system", "user"]
        assert task_id in opened.observation.messages[1]["content"]
        assert "episode_id" not in opened.observation.task  # the environment, not the agent, holds it
        ran = await env.step(_call("run_code", code="print('thinking')"))
        wrong = await env.step(_call("submit_answer", answer=-987654.321))
        assert wrong.observation.result["correct"] is False and wrong.reward == 0.0 and wrong.done
        assert wrong.observation.result["score"] == 0.0
        state = await env.state()
        after = await env.step(_call("run_code", code="print(1)"))
        assert after.observation.error is not None and "reset" in after.observation.error.message
    assert state.step_count == 3
    assert_no_ground_truth(_seen(opened, checked, ran, wrong, after), medgym.secrets(task_id))


async def test_openenv_agent_reaches_only_its_three_tools_and_its_own_episode(
        openenv_url: str, medgym: Medgym) -> None:
    first, second = medgym.sample(1)[:2]
    async with _client(openenv_url) as env, _client(openenv_url) as other:
        await env.reset(task_id=first)
        await other.reset(task_id=second)
        for tool, arguments in (("get_task", {"task_id": second}), ("list_tasks", {}), ("reset_task", {}),
                                ("get_progress", {})):
            refused = await env.step(_call(tool, **arguments))
            assert refused.observation.error.error_type.value == "tool_not_found" and not refused.done
        other_episode = (await other.state()).episode_id
        for arguments in ({"code": "print(1)", "episode_id": other_episode}, {"code": "print(1)", "task_id": second}):
            refused = await env.step(_call("run_code", **arguments))
            assert refused.observation.error.error_type.value == "invalid_args", refused
            assert "it accepts: code, timeout_s" in refused.observation.error.message
        with pytest.raises(RuntimeError, match="unknown tool 'get_task'"):
            await env.call_tool("get_task", task_id=second)  # OpenEnv's client raises on a framework error
        ok = await other.step(_call("run_code", code="print('mine')"))
        assert ok.observation.result["stdout"].strip() == "mine" and not ok.done


async def test_openenv_turn_limit_and_sampled_tasks(openenv_url: str) -> None:
    async with _client(openenv_url) as env:
        opened = await env.reset(dataset="medgym_power", split="test", seed=7, max_turns=2)
        assert opened.observation.task_id.startswith("medgym_power/test/")
        again = await env.reset(dataset="medgym_power", split="test", seed=7, max_turns=2)
        assert again.observation.task_id == opened.observation.task_id  # the seed picks the task
        first = await env.step(_call("run_code", code="print(1)"))
        last = await env.step(_call("inspect_data", action="list_tables"))
    assert not first.done and first.reward is None
    assert last.done and last.reward == 0.0 and last.observation.metadata["outcome"] == "unsubmitted"
    assert "no data files" in last.observation.result["error"]  # a tool error is an observation, not a crash


async def test_openenv_unscorable_task_gives_none(openenv_url: str, medgym: Medgym) -> None:
    task_id = medgym.unscorable()
    async with _client(openenv_url) as env:
        opened = await env.reset(task_id=task_id)
        assert opened.observation.metadata["scorable"] is False
        submitted = await env.step(_call("submit_answer", answer="def f(): pass"))
    assert submitted.done and submitted.reward is None and submitted.observation.metadata["outcome"] == "unscorable"
    assert "cannot be scored" in submitted.observation.result["error"]
    assert_no_ground_truth(_seen(opened, submitted), medgym.secrets(task_id))


async def test_openenv_unsolvable_task_gives_none_never_zero(openenv_url: str, medgym: Medgym) -> None:
    task_id = medgym.unsolvable()
    async with _client(openenv_url) as env:
        opened = await env.reset(task_id=task_id, max_turns=2)
        assert opened.observation.metadata["scorable"] is False and opened.observation.task["solvable"] is False
        submitted = await env.step(_call("submit_answer", answer=["1"]))  # refused, not counted, never a 0
    assert "cannot be solved" in submitted.observation.result["error"]
    assert submitted.done and submitted.reward is None and submitted.observation.metadata["outcome"] == "unscorable"
    assert_no_ground_truth(_seen(opened, submitted), medgym.secrets(task_id))


async def test_openenv_group_names_the_episodes_of_a_grpo_group(openenv_url: str, medgym: Medgym) -> None:
    task_id = medgym.sample(1)[0]
    started = time.time()
    async with _client(openenv_url) as one, _client(openenv_url) as two, _client(openenv_url) as alone:
        opened = [await one.reset(task_id=task_id, group="step-1/g0"), await two.reset(task_id=task_id,
                                                                                      group="step-1/g0")]
        single = await alone.reset(task_id=task_id)
        for env in (one, two, alone):
            await env.step(_call("submit_answer", answer=-987654.321))
    assert [o.observation.metadata["group"] for o in opened] == ["step-1/g0", "step-1/g0"]
    assert "group" not in opened[0].observation.task and single.observation.metadata["group"] is None
    submitted = [o.observation.metadata["episode_id"] for o in (*opened, single)]
    groups = {e.episode_id: e.group_id for e in medgym.records(started, ended=submitted)}
    assert [groups[o.observation.metadata["episode_id"]] for o in opened] == ["step-1/g0", "step-1/g0"]
    assert groups[single.observation.metadata["episode_id"]] is None


async def test_openenv_concurrent_sessions_are_isolated(openenv_url: str, medgym: Medgym) -> None:
    ids = medgym.sample(2)

    async def one(index: int, task_id: str) -> tuple[str, Any, str]:
        async with _client(openenv_url) as env:
            await env.reset(task_id=task_id)
            marker = f"marker-{index}"
            code = f"import os\nprint(sorted(os.listdir('.')))\nopen('{marker}', 'w').write('x')"
            seen = await env.step(_call("run_code", code=code))
            assert seen.observation.result["stdout"].strip() == "[]", seen  # no other session's files
            ran = await env.step(_call("run_code", code=medgym.store.reference_solution(task_id), timeout_s=120))
            submitted = await env.step(_call("submit_answer", answer=_last_line(ran)))
            listed = await env.state()
            return str(listed.episode_id), submitted, marker

    results = await asyncio.gather(*(one(i, t) for i, t in enumerate(ids)))
    assert len({episode for episode, _, _ in results}) == len(ids)
    assert all(s.reward == 1.0 and s.done and s.observation.result["correct"] for _, s, _ in results)


def test_openenv_sync_client_and_trl_adapter(openenv_url: str, medgym: Medgym) -> None:
    """The class given to TRL's `environment_factory` (TRL itself is not run: it needs a model)."""
    from evaluation.envs.openenv_client import EpisodeOver, trl_environment

    task_id = medgym.sample(1)[0]
    started = time.time()
    factory = trl_environment(openenv_url, group_size=2)  # as TRL: one instance per generation, 2 per prompt
    envs = [factory() for _ in range(3)]
    try:
        row = {"task_id": task_id, "prompt": "ignored column"}
        statements = [env.reset(**row) for env in envs]
        assert all(task_id in statement for statement in statements) and envs[0].reward is None
        env = envs[0]
        ran = json.loads(env.run_code(medgym.store.reference_solution(task_id), timeout_s=120))
        verdict = json.loads(env.submit_answer(json.loads(ran["stdout"].strip().splitlines()[-1])))
        assert verdict["correct"] and env.reward == 1.0 and env.done
        with pytest.raises(EpisodeOver, match="over"):
            env.run_code("print(1)")
        episodes = [str(e.client.state().episode_id) for e in envs]
        for other in envs[1:]:
            other.submit_answer(-987654.321)
        assert [e.reward for e in envs] == [1.0, 0.0, 0.0]
    finally:
        for env in envs:
            env.client.close()
    groups = {e.episode_id: e.group_id for e in medgym.records(started, ended=episodes)}
    first, second, third = (groups[episode] for episode in episodes)
    assert first == second and first is not None and first.endswith(task_id) and third not in (None, first)


def _vf_eval(medgym: Medgym, out: Path, model: str, ids: list[str], base_url: str,
             rollouts: int = 1) -> list[dict[str, Any]]:
    """verifiers' own `vf-eval` over the taskset (the null chat harness, subprocess runtime)."""
    config = out / "eval.toml"
    out.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join([
        f'model = "{model}"', f'output_dir = "{out}"', "push = false", f"num_rollouts = {rollouts}",
        "[client]", f'base_url = "{base_url}"', 'api_key_var = "FAKE_KEY"',
        "[env.taskset]", 'id = "medgym_verifiers"', f"task_ids = {json.dumps(ids)}",
        "[env.agent]", "max_turns = 4", "[env.agent.harness]", 'id = "null"',
        "[env.agent.runtime]", 'type = "subprocess"']) + "\n")
    command = [str(Path(sys.executable).parent / "vf-eval"), "@", str(config), "--no-rich"]
    result = subprocess.run(command, env=medgym.env(MEDGYM_POOL_SIZE="0", FAKE_KEY="sk-test"), cwd=out,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    lines = next(out.glob("*/traces.jsonl")).read_text().splitlines()
    return [trace for line in lines for trace in json.loads(line)["traces"]]


def _without_schemas(value: Any) -> Any:
    """A trace less its tool schemas (whose `answer` parameter the leak check would flag)."""
    if isinstance(value, dict):
        return {k: _without_schemas(v) for k, v in value.items() if k not in ("tools", "parameters")}
    return [_without_schemas(v) for v in value] if isinstance(value, list) else value


def _outcomes(medgym: Medgym, since: float) -> dict[str, set[str]]:
    """The server's own record of how each episode since `since` ended, by task."""
    outcomes: dict[str, set[str]] = {}
    for episode in medgym.records(since):
        if episode.outcome != "unsubmitted":
            outcomes.setdefault(episode.task_id, set()).add(episode.outcome)
    return outcomes


def test_verifiers_eval_rewards_equal_the_servers_verdicts(medgym: Medgym, tmp_path: Path) -> None:
    pytest.importorskip("verifiers", reason="the verifiers extra is not installed")
    from tests.fake_chat import fake_chat_server

    ids = medgym.sample(1)
    unscorable = medgym.unscorable()
    started = time.time()
    with fake_chat_server({t: medgym.store.reference_solution(t) or "" for t in ids}) as (url, received):
        solved = _vf_eval(medgym, tmp_path / "solver", "solver", ids, url, rollouts=2)
        solved_at = time.time()
        wrong = _vf_eval(medgym, tmp_path / "wrong", "wrong", [*ids, unscorable], url)
    outcomes = _outcomes(medgym, started)
    assert sorted(t["task"]["data"]["task_id"] for t in solved) == sorted(ids * 2)
    for trace in solved:
        assert trace["rewards"]["medgym_verdict"]["score"] == 1.0 and trace["stop_condition"] == "final_submission"
    groups: dict[str, set[str | None]] = {}  # a task's two rollouts in one run share a medgym group
    for episode in medgym.records(started):
        if episode.started_at < solved_at and episode.outcome == "correct":
            groups.setdefault(episode.task_id, set()).add(episode.group_id)
    assert set(groups) == set(ids) and all(len(g) == 1 and next(iter(g)) for g in groups.values()), groups
    for trace in wrong:
        task_id = trace["task"]["data"]["task_id"]
        if task_id == unscorable:  # no score: an error on the trace, never a 0
            assert trace["rewards"]["medgym_verdict"] is None and "no score (unscorable)" in json.dumps(trace["errors"])
        else:
            assert trace["rewards"]["medgym_verdict"]["score"] == 0.0, trace["errors"]
    assert all(outcomes[t] == {"correct", "incorrect"} for t in ids), outcomes  # the server's verdicts, per run
    assert unscorable not in outcomes, outcomes
    tools = {tool["function"]["name"] for request in received for tool in request["body"]["tools"]}
    assert tools == {"run_code", "inspect_data", "submit_answer"}
    for task_id in [*ids, unscorable]:  # the rows and the wrong agent's whole traces hold no ground truth
        traces = [t for t in wrong if t["task"]["data"]["task_id"] == task_id]
        assert all({tool["name"] for tool in t["tools"]} >= {"submit_answer"} for t in traces)
        seen = json.dumps(_without_schemas(traces))
        assert_no_ground_truth(seen, medgym.secrets(task_id))
        assert_no_ground_truth(json.dumps([t["task"] for t in solved]), medgym.secrets(task_id))


async def test_the_environments_send_medgym_token_to_a_server_that_wants_one(
        tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluation.envs.connection import MedgymLink, MedgymServer, MedgymUnavailable
    from tests.test_http_exposure import TOKEN, _start, _wait

    proc, port = _start(tmp_path, shared_dir, "127.0.0.1", {"MEDGYM_TOKEN": TOKEN})
    try:
        _wait(proc, port, tmp_path / "server.log")
        url = f"http://127.0.0.1:{port}/mcp"
        monkeypatch.delenv("MEDGYM_TOKEN", raising=False)
        with pytest.raises(MedgymUnavailable, match="set MEDGYM_TOKEN to a token it accepts"):
            await MedgymLink(MedgymServer(url=url)).start()
        monkeypatch.setenv("MEDGYM_TOKEN", TOKEN)  # read when the server is described, as the CLI does
        link = MedgymLink(MedgymServer(url=url))
        await link.start()
        try:
            assert "run_code" in {spec["function"]["name"] for spec in link.rules.specs}
        finally:
            await link.stop()
        assert TOKEN not in repr(MedgymServer(url=url))
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()[-3000:]
