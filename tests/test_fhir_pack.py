"""The medgym_fhir pack and the MedAgentBench adapter, without Docker.

Every family has at least 20 tasks and its edge cases; the EHR the FHIR servers load holds no
answer key; nothing of a FHIR dataset is ever mounted into the agent's sandbox; MedAgentBench's
public task files are all keyed for FHIR scoring, and without the EHR they say what is missing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from scoring.fhir_chart import ChartIndex
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_rules import expected_for
from task_store import data
from task_store.models import IndexedTask
from task_store.pack.build import pack_dir
from tests.fake_backend import FakeBackendConfig
from tests.mcp_calls import call_error, call_ok


def pack_tasks(home: Path) -> list[IndexedTask]:
    folder = pack_dir(home) / "medgym_fhir"
    return [IndexedTask.model_validate_json(line) for path in sorted(folder.glob("*_tasks.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


def ehr(home: Path) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = json.loads((pack_dir(home) / "medgym_fhir" / "fhir" / "ehr.json").read_text())
    return resources


def test_every_family_has_twenty_tasks_and_its_edge_cases(pack_home: Path) -> None:
    tasks = pack_tasks(pack_home)
    assert Counter(t.task.category for t in tasks) == {f"task{n}": 22 for n in range(1, 11)}
    index = ChartIndex.build(ehr(pack_home))
    seen: Counter[tuple[int, str]] = Counter()
    for item in tasks:
        assert isinstance(item.key, FhirTaskKey) and item.reference_solution
        expected = expected_for(item.key, index.chart(item.key.mrn))
        missing = bool(expected.answer) and expected.answer[0] in (-1, "Patient not found")
        seen[(item.key.family, f"{'missing' if missing else 'value'}+{len(expected.orders)} orders")] += 1
    for family in (4, 5, 6, 7, 9, 10):
        assert seen[(family, "missing+0 orders")] + seen[(family, "missing+1 orders")] >= 3, family
    assert seen[(5, "value+1 orders")] >= 10 and seen[(5, "value+0 orders")] >= 3  # dosing bands, and normal
    assert seen[(9, "value+2 orders")] >= 8 and seen[(9, "value+0 orders")] >= 5
    assert seen[(10, "value+1 orders")] >= 5 and seen[(10, "value+0 orders")] >= 5
    assert seen[(1, "missing+0 orders")] >= 3 and seen[(1, "value+0 orders")] >= 15


def test_the_ehr_is_medagentbench_shaped_and_holds_no_answer_key(pack_home: Path) -> None:
    resources = ehr(pack_home)
    kinds = Counter(r["resourceType"] for r in resources)
    assert kinds["Patient"] == 150 and {"Observation", "Condition", "MedicationRequest", "Procedure"} <= set(kinds)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    assert patient["id"] == patient["identifier"][0]["value"] and patient["id"].startswith("S")
    text = json.dumps(resources)
    for word in ("FhirTaskKey", "accepted", "reference_solution", "Patient not found", "\"kind\": \"fhir\""):
        assert word not in text


def test_nothing_of_a_fhir_dataset_is_mounted(pack_home: Path) -> None:
    folder = pack_dir(pack_home) / "medgym_fhir"
    assert (folder / "fhir" / "ehr.json").is_file()
    assert data.mounts(folder, "medgym_fhir") == [] and data.uses_fhir("medgym_fhir")
    assert data.data_available(folder, "medgym_fhir")


def test_medagentbench_records_are_keyed_for_fhir_scoring(shared_dir: Path) -> None:
    from task_store.adapters.medagentbench import MedAgentBench

    adapter = MedAgentBench()
    folder = shared_dir / "medagentbench"
    side = adapter.side_data(folder)
    assert "http://fhir:8080/fhir/Observation" in side["instructions"] and "{api_base}" not in side["instructions"]
    lines = (folder / "train_tasks.jsonl").read_text().splitlines()
    keys = [adapter.parse(json.loads(line), "train", n, side).key for n, line in enumerate(lines, start=1)]
    assert all(isinstance(k, FhirTaskKey) for k in keys) and len(keys) == 240
    fhir_keys = [k for k in keys if isinstance(k, FhirTaskKey)]
    assert Counter(k.family for k in fhir_keys) == {n: 24 for n in range(1, 11)}
    assert all(k.value and k.value.endswith("mmHg") for k in fhir_keys if k.family == 3)
    assert all(k.note and k.note.startswith("Situation:") for k in fhir_keys if k.family == 8)
    assert data.mounts(folder, "medagentbench") == []  # the task files' `sol` never reaches a sandbox


@pytest.mark.anyio
async def test_medagentbench_without_its_ehr_says_what_is_missing(settings: Settings,
                                                                 fake_backend: FakeBackendConfig) -> None:
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        datasets = await call_ok(client, "list_datasets")
        info = next(d for d in datasets["datasets"] if d["name"] == "medagentbench")
        assert not info["data_available"] and info["scorable_tasks"] == info["total"]
        page = await call_ok(client, "list_tasks", dataset="medagentbench", category="task4", limit=1)
        task_id = page["tasks"][0]["task_id"]
        view = await call_ok(client, "get_task", task_id=task_id)
        assert not view["solvable"] and "cannot be solved on this server" in view["instructions"]
        assert "medagentbench/fhir" in view["solvable_reason"] and "/work/" not in view["solvable_reason"]
        for tool, args in (("run_code", {"code": "print(1)"}), ("submit_answer", {"answer": [1.8]})):
            message = await call_error(client, tool, task_id=task_id, **args)
            assert "medagentbench/fhir" in message and "/work/" not in message, message
