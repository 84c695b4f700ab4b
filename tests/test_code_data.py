"""What data a code task needs and sees, without starting a container.

BioDSBench availability per task: a task whose cBioPortal study is missing is listed, flagged and
refused on its own, while the tasks of the studies present stay solvable. A grader sandbox gets the
mounts of the agent's sandbox (allowlisted; the pack's as volume copies) and, for BioDSBench, the
study folder at /workdir only when it lies inside that allowlist. (The grader containers themselves
run in test_code_grading.py and test_code_datasets.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from medgym.errors import TaskNotScorableError
from sandbox.contract import Mount, Sandbox, SandboxSpec
from sandbox.limits import Limits
from scoring.code_keys import AssertsKey
from task_store.store import TaskFilter, TaskStore
from tests.conftest import IMAGE
from tests.fake_backend import FakeBackendConfig
from tests.mcp_calls import call_error, call_ok
from tools.code_grader import CodeGrader, Run
from tools.reference_cache import ReferenceCache
from tools.sandboxes import SandboxProvider

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


@pytest.mark.anyio
async def test_a_task_without_its_study_is_flagged_and_refused_alone(tmp_path: Path, data_dir: Path,
                                                                    fake_backend: FakeBackendConfig) -> None:
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


class _Unstarted:
    """Stands in for a grader container: these tests look at the spec it would be started with."""

    def close(self) -> None:
        pass


def _grader_spec(store: TaskStore, run: Run) -> tuple[SandboxSpec, SandboxSpec]:
    """(the agent's sandbox spec for the task's dataset, the spec a grading of `run` starts)."""
    started: list[SandboxSpec] = []

    def start_fresh(spec: SandboxSpec) -> Sandbox:
        started.append(spec)
        return _Unstarted()  # type: ignore[return-value]

    def never(spec: SandboxSpec) -> Sandbox:
        raise AssertionError("a grader never takes a pooled sandbox")

    sandboxes = SandboxProvider(store, IMAGE, Limits(), never, start_fresh=start_fresh)
    CodeGrader(lambda: store, sandboxes, ReferenceCache(None)).run_programs(run, [], 5.0)
    return sandboxes.spec(run.dataset), started[0]


def test_a_pack_grader_gets_the_agents_copied_mounts(pack_home: Path) -> None:
    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home).roots())
    task_id = store.query(TaskFilter(dataset="medgym_bio", category="analysis: mutation-counts"), limit=1).tasks[0]
    agent, grader = _grader_spec(store, Run("ep_x", task_id.task_id))
    store.close()
    assert grader.mounts == agent.mounts and grader.image == agent.image and grader.network is None
    assert len(grader.mounts) == 9 and all(m.copy for m in grader.mounts)  # 3 cohorts x 3 tables, as copies
    assert {m.target.rsplit("/", 2)[0] for m in grader.mounts} == {"/data/medgym_bio/cohorts"}
    assert all(m.target.endswith(".csv") and "task" not in m.source.name for m in grader.mounts)
    assert grader.labels["medgym.episode"] == "ep_x-grader" and grader.labels["medgym.role"] == "grader"


def test_a_biodsbench_grader_mounts_its_study_inside_the_allowlist(tmp_path: Path, data_dir: Path) -> None:
    settings = _settings(tmp_path, data_dir)
    store = TaskStore.open(settings.db_path, settings.roots())
    grader = CodeGrader(store, SandboxProvider(store, IMAGE, Limits(), _no_start), ReferenceCache(None))
    key = AssertsKey(tests="assert True", workdir_folder="data/111")
    study = grader.workdir_mounts(PRESENT, key)
    assert study == (Mount(source=(data_dir / "biodsbench" / "data" / "111").resolve(), target="/workdir"),)
    agent, spec = _grader_spec(store, Run("ep_y", PRESENT, study))
    assert spec.mounts == (*agent.mounts, *study)
    assert agent.mounts == (Mount(source=(data_dir / "biodsbench" / "data").resolve(), target="/data/biodsbench/data"),)
    with pytest.raises(TaskNotScorableError, match="not on this server"):
        grader.workdir_mounts(MISSING, key.model_copy(update={"workdir_folder": "data/222"}))
    with pytest.raises(TaskNotScorableError, match="never mounted"):  # the dataset folder itself: not allowlisted
        grader.workdir_mounts(PRESENT, key.model_copy(update={"workdir_folder": "data/.."}))
    (data_dir / "biodsbench" / "data" / "111" / "answer_task.json").write_text("{}")  # a stray task file
    with pytest.raises(TaskNotScorableError, match="never mounted"):
        grader.workdir_mounts(PRESENT, key)
    store.close()


def _no_start(spec: SandboxSpec) -> Sandbox:
    raise AssertionError("no sandbox is started here")
