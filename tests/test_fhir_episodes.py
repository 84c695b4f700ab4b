"""FHIR tasks through the MCP tools (in-process client, real Docker): the medgym_fhir pack end to end.

A FHIR episode's sandbox reaches its own FHIR server and nothing else; writes in one episode are
invisible to another; server and network go with the episode; a killed server is a "medgym server
problem"; reference solutions score correct; expected answers never reach a tool result, a record
or a log line; the EHR is never mounted into the agent's sandbox.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from sandbox.docker_backend import DockerBackend
from sandbox.fhir_sandbox import FhirSandbox
from sandbox.labels import MANAGED, OWNER, owner_label
from scoring.fhir_chart import ChartIndex
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_rules import expected_for
from task_store.pack.build import pack_dir
from task_store.roots import open_store
from tests.conftest import IMAGE
from tests.mcp_calls import call_error, call_ok
from tests.test_fhir_server import (  # noqa: F401 (fixtures)
    PROBE,
    docker_client,
    fhir_image,
    host_http_server,
    host_ipv4_addresses,
)

pytestmark = pytest.mark.anyio
FAMILIES = [f"task{n}" for n in range(1, 11)]


@pytest.fixture
def fhir_settings(pack_home: Path, fhir_image: str) -> Settings:  # noqa: F811
    return Settings(home=pack_home, image=IMAGE, pack=True, pool_size=0)


@pytest.fixture
def no_leftovers(docker_ready: None) -> Iterator[None]:
    """Nothing of this process's (containers, FHIR networks) is left after the test."""
    client = DockerBackend("tests").client
    labels = [f"{MANAGED}=1", f"{OWNER}={owner_label()}"]
    before = {n["Name"] for n in client.api.networks(filters={"label": labels})}
    before_containers = {c["Id"] for c in client.api.containers(all=True, filters={"label": labels})}
    yield
    deadline = time.monotonic() + 120  # a bundle the pool was starting at shutdown is removed when it is up
    while True:
        left = {n["Name"] for n in client.api.networks(filters={"label": labels})} - before
        left_containers = {c["Id"] for c in client.api.containers(all=True, filters={"label": labels})}
        left_containers -= before_containers
        if not (left or left_containers) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not left and not left_containers, (left, left_containers)


def first_per_family(settings: Settings) -> dict[str, str]:
    store = open_store(settings.db_path, settings.roots())
    try:
        found: dict[str, str] = {}
        for family in FAMILIES:
            page = store.query(_filter(family), limit=1, cursor=None)
            found[family] = page.tasks[0].task_id
        return found
    finally:
        store.close()


def _filter(category: str) -> Any:
    from task_store.store import TaskFilter

    return TaskFilter(dataset="medgym_fhir", category=category)


def reference(settings: Settings, task_id: str) -> str:
    store = open_store(settings.db_path, settings.roots())
    try:
        code = store.reference_solution(task_id)
        assert code
        return code
    finally:
        store.close()


def expected_strings(settings: Settings, task_id: str) -> set[str]:
    """The task's expected answer values, as they could appear in text (distinctive ones only)."""
    store = open_store(settings.db_path, settings.roots())
    try:
        key = store.answer_key(task_id)
    finally:
        store.close()
    assert isinstance(key, FhirTaskKey)
    ehr = pack_dir(settings.home) / "medgym_fhir" / "fhir" / "ehr.json"
    expected = expected_for(key, ChartIndex.build(json.loads(ehr.read_text())).chart(key.mrn))
    return {json.dumps(v) for v in expected.answer if v not in (-1, "Patient not found")} | {
        str(v) for v in expected.answer if isinstance(v, str) and v != "Patient not found"}


async def test_task_view_tells_where_the_ehr_is(fhir_settings: Settings) -> None:
    handle = build_server(fhir_settings)
    async with Client(handle.mcp) as client:
        task_id = first_per_family(fhir_settings)["task5"]
        view = await call_ok(client, "get_task", task_id=task_id)
        assert "http://fhir:8080/fhir/" in view["instructions"] and view["data_files"] == []
        assert "POST http://fhir:8080/fhir/MedicationRequest" in view["instructions"]
        assert view["data_available"] and view["scorable"]
        message = await call_error(client, "inspect_data", task_id=task_id, action="list_tables")
        assert "FHIR server" in message and "http://fhir:8080/fhir/" in message
        datasets = await call_ok(client, "list_datasets")
        fhir = next(d for d in datasets["datasets"] if d["name"] == "medgym_fhir")
        assert fhir["total"] >= 200 and fhir["categories_total"] == 10 and fhir["data_available"]


async def test_reference_solutions_score_correct_in_every_family(fhir_settings: Settings, no_leftovers: None,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handle = build_server(fhir_settings)
    tasks = first_per_family(fhir_settings)
    async with Client(handle.mcp) as client:
        for family, task_id in tasks.items():
            view = await call_ok(client, "get_task", task_id=task_id, new_episode=True)
            episode = view["episode_id"]
            run = await call_ok(client, "run_code", task_id=task_id, code=reference(fhir_settings, task_id),
                                episode_id=episode, timeout_s=120)
            assert run["exit_code"] == 0, run["stderr"]
            answer = json.loads(run["stdout"].strip().splitlines()[-1])
            verdict = await call_ok(client, "submit_answer", task_id=task_id, answer=answer, episode_id=episode)
            assert verdict["correct"], (family, verdict["feedback"])
            assert verdict["episode_ended"]


async def test_wrong_answers_never_reveal_the_expected_value(fhir_settings: Settings, no_leftovers: None,
                                                             caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    handle = build_server(fhir_settings)
    tasks = first_per_family(fhir_settings)
    every_truth: set[str] = set()
    async with Client(handle.mcp) as client:
        for family in ("task2", "task4", "task6", "task7", "task9", "task10"):
            task_id = tasks[family]
            view = await call_ok(client, "get_task", task_id=task_id, new_episode=True)
            truths = {t for t in expected_strings(fhir_settings, task_id) if t not in json.dumps(view)}
            wrong = [12345.5, "2000-01-01T00:00:00+00:00"] if family == "task10" else [12345.5]
            verdict = await call_ok(client, "submit_answer", task_id=task_id, answer=wrong,
                                    episode_id=view["episode_id"])
            assert not verdict["correct"]
            record = await client.read_resource(f"medgym://episodes/{view['episode_id']}")
            recorded = json.dumps([c.model_dump() for c in record.contents])
            for truth in truths:
                assert not re.search(rf"(?<![\w.]){re.escape(truth)}(?![\w.])", verdict["feedback"]), (family, truth)
                alone = rf"(?<![\w.]){re.escape(truth)}(?![\w.])"  # a value of its own, not inside a timestamp
                if len(truth) >= 4:  # shorter ones (an age) occur by chance in times and sizes
                    assert not re.search(alone, recorded) and not re.search(alone, caplog.text), (family, truth)
            every_truth |= truths
    from trajectory.export import export

    assert export(fhir_settings.db_path, "raw", tmp_path / "raw.jsonl", dataset="medgym_fhir", outcome="incorrect")
    exported = (tmp_path / "raw.jsonl").read_text()
    leaked = [t for t in every_truth if len(t) >= 4 and re.search(rf"(?<![\w.]){re.escape(t)}(?![\w.])", exported)]
    assert "12345.5" in exported and not leaked  # (as a value of its own: not inside a timestamp)


async def test_isolation_between_episodes_and_from_the_host(fhir_settings: Settings, no_leftovers: None,
                                                            host_http_server: int) -> None:  # noqa: F811
    handle = build_server(fhir_settings)
    task_id = first_per_family(fhir_settings)["task3"]
    async with Client(handle.mcp) as client:
        one = (await call_ok(client, "get_task", task_id=task_id, new_episode=True))["episode_id"]
        two = (await call_ok(client, "get_task", task_id=task_id, new_episode=True))["episode_id"]
        code = reference(fhir_settings, task_id)

        async def solve(episode: str) -> None:
            await call_ok(client, "run_code", task_id=task_id, code=code, timeout_s=60, episode_id=episode)

        async with anyio.create_task_group() as group:  # two episodes of the same task at once
            for episode in (one, two):
                group.start_soon(solve, episode)
        count = SEARCH_BP.replace("MRN", _mrn_of(fhir_settings, task_id))
        posted = await call_ok(client, "run_code", task_id=task_id, code=count, episode_id=one)
        assert json.loads(posted["stdout"]) == 1  # its own POST, not the other episode's
        mine = _bundle(handle, one)
        other_ip = _server_ip(_bundle(handle, two))
        gateway = mine.server.network.gateway
        targets = [["fhir", 8080], [other_ip, 8080], [gateway, host_http_server],
                   *([a, host_http_server] for a in host_ipv4_addresses())]
        probe = PROBE.replace("sys.argv[1]", repr(json.dumps([targets, ["fhir"]])))
        result = json.loads((await call_ok(client, "run_code", task_id=task_id, code=probe, episode_id=one))["stdout"])
        assert result["connections"][0] == "connected"
        assert all(r != "connected" for r in result["connections"][1:]), result["connections"]
        mounts = await call_ok(client, "run_code", task_id=task_id, episode_id=one,
                               code="import os; print(os.path.exists('/data'), os.listdir('/data') if "
                                    "os.path.exists('/data') else [])")
        assert mounts["stdout"].strip() in ("False []", "True []")  # the EHR is never mounted
        names = (mine.server.network.name, mine.server.container_id)
        await call_ok(client, "reset_task", task_id=task_id, episode_id=one)
        await _until_gone(*names)


SEARCH_BP = """
import json, urllib.request
url = "http://fhir:8080/fhir/Observation?patient=MRN&code:text=BP&date=ge2023-11-13T10:15:00%2B00:00"
with urllib.request.urlopen(url, timeout=30) as reply:
    print(json.dumps(len(json.load(reply).get("entry", []))))
"""


def _mrn_of(settings: Settings, task_id: str) -> str:
    store = open_store(settings.db_path, settings.roots())
    try:
        key = store.answer_key(task_id)
    finally:
        store.close()
    assert isinstance(key, FhirTaskKey)
    return key.mrn


def _bundle(handle: Any, episode_id: str) -> FhirSandbox:
    episode = handle.state.services.episodes.get(episode_id)
    assert episode is not None and isinstance(episode.sandbox, FhirSandbox)
    return episode.sandbox


def _server_ip(bundle: FhirSandbox) -> str:
    client = DockerBackend("tests").client
    networks = client.api.inspect_container(bundle.server.container_id)["NetworkSettings"]["Networks"]
    return str(networks[bundle.server.network.name]["IPAddress"])


async def _until_gone(network: str, container: str) -> None:
    client = DockerBackend("tests").client
    with anyio.fail_after(30):
        while client.api.networks(names=[network]) or client.api.containers(all=True, filters={"id": container}):
            await anyio.sleep(0.2)


async def test_a_killed_fhir_server_is_a_medgym_server_problem(fhir_settings: Settings, no_leftovers: None) -> None:
    handle = build_server(fhir_settings)
    task_id = first_per_family(fhir_settings)["task7"]
    async with Client(handle.mcp) as client:
        episode = (await call_ok(client, "get_task", task_id=task_id, new_episode=True))["episode_id"]
        await call_ok(client, "run_code", task_id=task_id, code="print(1)", episode_id=episode)
        bundle = _bundle(handle, episode)
        DockerBackend("tests").client.api.kill(bundle.server.container_id)
        message = await call_error(client, "run_code", task_id=task_id, code="print(2)", episode_id=episode)
        assert "medgym server problem" in message and "FHIR server" in message
        await _until_gone(bundle.server.network.name, bundle.server.container_id)
        run = await call_ok(client, "run_code", task_id=task_id, code=reference(fhir_settings, task_id),
                            episode_id=episode)  # a fresh bundle
        assert run["exit_code"] == 0
        fresh = _bundle(handle, episode)
        DockerBackend("tests").client.api.kill(fresh.server.container_id)
        message = await call_error(client, "submit_answer", task_id=task_id, answer=[1], episode_id=episode)
        assert "medgym server problem" in message and "not counted" in message


async def test_the_pool_hands_out_ready_bundles(pack_home: Path, fhir_image: str, no_leftovers: None) -> None:  # noqa: F811
    settings = Settings(home=pack_home, image=IMAGE, pack=True, pool_size=1)
    handle = build_server(settings)
    task_id = first_per_family(settings)["task4"]
    async with Client(handle.mcp) as client:
        for _ in range(2):
            episode = (await call_ok(client, "get_task", task_id=task_id, new_episode=True))["episode_id"]
            run = await call_ok(client, "run_code", task_id=task_id, code=reference(settings, task_id),
                                episode_id=episode)
            assert run["exit_code"] == 0
            await call_ok(client, "submit_answer", task_id=task_id, episode_id=episode,
                          answer=json.loads(run["stdout"].strip().splitlines()[-1]))
            with anyio.fail_after(120):  # the pool keeps a bundle ready for the next episode
                while not _pooled_servers():
                    await anyio.sleep(0.5)


def _pooled_servers() -> list[str]:
    client = DockerBackend("tests").client
    labels = [f"{OWNER}={owner_label()}", "medgym.kind=fhir", "medgym.episode=pool"]
    return [c["Id"] for c in client.api.containers(filters={"label": labels})]
