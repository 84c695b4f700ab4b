"""BioDSBench availability per task: a task whose cBioPortal study is missing is listed, flagged and
refused on its own, while the tasks of the studies present stay solvable (no sandbox is started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from task_store.store import TaskFilter, TaskStore
from tests.conftest import IMAGE
from tests.mcp_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

PRESENT, MISSING = "biodsbench/train/111-0", "biodsbench/train/222-0"


def _record(study: str) -> dict[str, str]:
    return {"queries": "Mean age as `mean_age`.", "dataframes": "`/workdir/data_clinical_patient.csv`",
            "code_histories": "[]", "study_ids": study, "question_ids": "0", "cot_instructions": "",
            "test_cases": "assert mean_age == 50", "reference_answer": "mean_age = 50"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Tasks over two studies, of which only study 111's files are here."""
    folder = tmp_path / "data" / "biodsbench"
    (folder / "data" / "111").mkdir(parents=True)
    (folder / "data" / "111" / "data_clinical_patient.csv").write_text("PATIENT_ID,AGE\nP1,40\nP2,60\n")
    (folder / "train_tasks.jsonl").write_text("".join(json.dumps(_record(s)) + "\n" for s in ("111", "222")))
    return tmp_path / "data"


def _settings(tmp_path: Path, data_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", data_dir=data_dir, image=IMAGE, pack=False, pool_size=0)


def test_the_store_refines_dataset_availability_per_study(tmp_path: Path, data_dir: Path) -> None:
    settings = _settings(tmp_path, data_dir)
    store = TaskStore.open(settings.db_path, settings.roots())
    assert store.availability("biodsbench").solvable  # the dataset: its data folder is here
    assert store.task_availability("biodsbench", "study 111").solvable
    missing = store.task_availability("biodsbench", "study 222")
    assert not missing.solvable and "222" in missing.reason and "biodsbench/data/222/" in missing.fix
    assert str(tmp_path) not in missing.reason + missing.fix  # it reaches agents: no host path
    assert store.unsolvable_categories("biodsbench") == ["study 222"]
    assert [t.task_id for t in store.query(TaskFilter(solvable=True)).tasks] == [PRESENT]
    assert [t.task_id for t in store.query(TaskFilter(solvable=False)).tasks] == [MISSING]
    assert {t.task_id: t.solvable for t in store.query(TaskFilter(dataset="biodsbench")).tasks} == {
        PRESENT: True, MISSING: False}
    store.close()


async def test_a_task_without_its_study_is_flagged_and_refused_alone(tmp_path: Path, data_dir: Path) -> None:
    async with Client(build_server(_settings(tmp_path, data_dir)).mcp) as client:
        info = next(d for d in (await call_ok(client, "list_datasets"))["datasets"] if d["name"] == "biodsbench")
        assert info["data_available"] and info["total"] == 2 and info["solvable_tasks"] == 1
        assert "222" in info["unsolvable_reason"] and str(tmp_path) not in info["unsolvable_reason"]
        listed = await call_ok(client, "list_tasks", dataset="biodsbench", solvable=True)
        assert [t["task_id"] for t in listed["tasks"]] == [PRESENT]
        view = await call_ok(client, "get_task", task_id=MISSING)
        assert not view["solvable"] and not view["data_available"] and view["data_files"] == []
        assert "cannot be solved on this server" in view["instructions"] and "222" in view["solvable_reason"]
        assert str(tmp_path) not in json.dumps(view)
        refused = await call_error(client, "submit_answer", task_id=MISSING, answer="mean_age = 50")
        assert "cannot be solved" in refused and "not counted" in refused and str(tmp_path) not in refused
        assert (await call_ok(client, "get_task", task_id=MISSING))["attempts_used"] == 0
        present = await call_ok(client, "get_task", task_id=PRESENT)
        assert present["solvable"] and present["solvable_reason"] is None
        assert any(f["path"] == "/data/biodsbench/data" for f in present["data_files"])
