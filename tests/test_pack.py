"""The built-in open task pack: deterministic, served with zero configuration, certified, leak-free."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from medgym_cli import certify
from sandbox.docker_backend import DockerBackend
from scoring.prediction_keys import PredictionsKey
from task_store.pack.build import DEFAULT_SEED, PACK_DATASETS, build_into, pack_dir, write_tasks
from task_store.pack.calc_tasks import build_calc_tasks
from task_store.store import TaskStore
from tests.conftest import IMAGE
from tests.leaks import assert_no_ground_truth, hidden_label_rows
from tests.pack_sample import SAMPLED, pack_sample
from tests.test_fhir_server import docker_client, fhir_image  # noqa: F401 (fixtures)
from tools.fhir_episodes import fhir_episodes_for
from tools.sandboxes import SandboxProvider

pytestmark = pytest.mark.anyio



def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_same_seed_rebuilds_identical_tasks_and_answers(pack_home: Path, tmp_path: Path) -> None:
    first, second = pack_dir(pack_home), tmp_path / "b"  # the session's pack, built by ensure_pack
    counts = build_into(second, DEFAULT_SEED)
    built = [p for p in _files(first) if p.name != "manifest.json"]
    assert built == _files(second)
    match, mismatch, errors = filecmp.cmpfiles(first, second, [str(p) for p in built], shallow=False)
    assert not mismatch and not errors and len(match) == len(built)
    calc_tasks = Path("medgym_calc") / "test_tasks.jsonl"
    write_tasks(tmp_path / "c" / "medgym_calc", build_calc_tasks(DEFAULT_SEED + 1))
    assert (first / calc_tasks).read_bytes() != (tmp_path / "c" / calc_tasks).read_bytes()
    total = sum(n for per_split in counts.values() for n in per_split.values())
    print(f"\npack: {total} tasks {counts}")
    assert total >= 600 and set(counts) == set(PACK_DATASETS)
    assert all(set(per_split) == {"train", "test"} for per_split in counts.values())


def _settings(home: Path, **extra: Any) -> Settings:
    return Settings(home=home, image=IMAGE, **extra)


@pytest.mark.usefixtures("fake_backend")
async def test_pack_is_served_with_zero_configuration(pack_home: Path, shared_dir: Path) -> None:
    async with Client(build_server(_settings(pack_home)).mcp) as client:
        listing = (await client.call_tool("list_datasets", {})).structured_content
        names = {d["name"]: d for d in listing["datasets"]}
        assert set(names) == set(PACK_DATASETS)
        assert names["medgym_ehr"]["data_available"] and names["medgym_ehr"]["source"] == "built-in pack"
        assert names["medgym_ehr"]["categories_total"] >= 8
    async with Client(build_server(_settings(pack_home, data_dir=shared_dir)).mcp) as client:
        listing = (await client.call_tool("list_datasets", {})).structured_content
        assert {d["name"] for d in listing["datasets"]} >= {*PACK_DATASETS, "medcalcbench", "mimic_iii"}


@pytest.mark.usefixtures("fake_backend")
async def test_no_reference_sql_or_answer_in_tool_results(pack_home: Path) -> None:
    store = TaskStore.open(pack_home / "medgym.sqlite", _settings(pack_home).roots())
    async with Client(build_server(_settings(pack_home)).mcp) as client:
        for dataset in PACK_DATASETS:
            page = (await client.call_tool("list_tasks", {"dataset": dataset, "limit": 60})).structured_content
            assert_no_ground_truth(json.dumps(page), set())
            for summary in page["tasks"]:
                view = (await client.call_tool("get_task", {"task_id": summary["task_id"]})).structured_content
                text = json.dumps(view)
                reference = store.reference_solution(summary["task_id"]) or ""
                assert reference and reference not in text
                assert "select " not in text.lower()
                key = store.answer_key(summary["task_id"])
                assert_no_ground_truth(text, _distinctive(key.model_dump(), view))
    store.close()


def _distinctive(key: dict[str, Any], view: dict[str, Any]) -> set[str]:
    """Answer values long enough not to occur by chance, and not already part of the question."""
    if key["kind"] == "predictions":  # the threshold and columns are public (the statement gives them)
        return hidden_label_rows(PredictionsKey.model_validate(key))
    values = [v for k, v in key.items() if k != "kind"]
    flat = [str(x) for v in values for x in (v if isinstance(v, list) else [v])]
    shown = f"{view['question']} {view.get('context') or ''}"
    return {s for s in flat if len(s) >= 5 and s not in ("None", "True", "False") and s not in shown}


@pytest.mark.usefixtures("docker_ready")
async def test_sandbox_sees_data_but_no_task_files(pack_home: Path) -> None:
    code = (
        "import os\n"
        "names = sorted(os.listdir('/data/medgym_ehr'))\n"
        "print(names)\n"
        "found = [os.path.join(d, f) for d, _, fs in os.walk('/') if not d.startswith(('/proc', '/sys'))\n"
        "         for f in fs if 'task' in f.lower() and f.endswith(('.jsonl', '.json'))]\n"
        "print(found)\n"
        "try:\n"
        "    open('/data/medgym_ehr/PATIENTS.csv', 'a')\n"
        "    print('WRITABLE')\n"
        "except OSError as exc:\n"
        "    print('read-only', exc.errno)\n"
    )
    async with Client(build_server(_settings(pack_home)).mcp) as client:
        task_id = (await client.call_tool("list_tasks", {"dataset": "medgym_ehr", "limit": 1})).structured_content
        result = await client.call_tool("run_code", {"task_id": task_id["tasks"][0]["task_id"], "code": code,
                                                     "timeout_s": 120})
        names, found, writable = result.structured_content["stdout"].splitlines()
    assert "PATIENTS.csv" in names and "mimic_iii.sqlite" in names and "task" not in names.lower()
    assert found == "[]"
    assert writable in ("read-only 13", "read-only 30")  # EACCES or EROFS


@pytest.mark.usefixtures("docker_ready", "no_leftover_containers", "fhir_image")
def test_certify_the_whole_pack(pack_home: Path) -> None:
    """Every reference solution scores correct in the real sandbox; every constant answer incorrect.

    medgym_ehr, medgym_calc and medgym_power whole; medgym_bio, medgym_predict and medgym_fhir by a
    sample over every category (`tests.pack_sample`: their own tests certify them further)."""
    store = TaskStore.open(pack_home / "medgym.sqlite", _settings(pack_home).roots())
    tasks = pack_sample(store)
    backend = DockerBackend("tests-certify")
    fhir = fhir_episodes_for(backend, pack_home / "fhir-cache", 1)
    sandboxes = SandboxProvider(store, IMAGE, certify.LIMITS, backend.start, fhir)
    try:
        reports, outcomes = certify.certify(store, sandboxes, tasks)
    finally:
        if fhir is not None:
            fhir.close()
    for name, report in sorted(reports.items()):
        print(f"\n{name}: {report.tasks} tasks, reference correct {report.reference_correct}, "
              f"constants incorrect {report.constants_incorrect}, {report.seconds} s")
    assert len(outcomes) == len(tasks) >= 1000 and set(reports) == set(PACK_DATASETS)
    assert {name: r.tasks for name, r in reports.items() if name in SAMPLED} == SAMPLED
    failures = [f for r in reports.values() for f in r.failures + r.skipped]
    assert failures == []
    assert pack_dir(pack_home).is_dir()
