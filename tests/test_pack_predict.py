"""`medgym_predict` end to end: certification (reference correct; constant and random predictions
incorrect), the `medgym tasks certify` command, and the oracle agent through `medgym eval`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_server.settings import Settings
from medgym_cli import certify
from sandbox.docker_backend import DockerBackend
from task_store.store import TaskStore
from tests.conftest import IMAGE
from tools.sandboxes import SandboxProvider
from trajectory.rundir import RunDir

pytestmark = pytest.mark.usefixtures("docker_ready", "no_leftover_containers")
MEDGYM = str(Path(sys.executable).parent / "medgym")
FIGURES = re.compile(r"reference (\d\.\d+), constant (\d\.\d+), random (\d\.\d+); threshold (\d\.\d+)")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MEDGYM_HOME": str(home), "MEDGYM_IMAGE": IMAGE, "MEDGYM_POOL_SIZE": "2"}


def test_certify_reference_constant_and_random(pack_home: Path) -> None:
    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home, image=IMAGE).roots())
    tasks = certify.select(store, "medgym_predict", None)
    sandboxes = SandboxProvider(store, IMAGE, certify.LIMITS, DockerBackend("tests-certify-predict").start)
    reports, outcomes = certify.certify(store, sandboxes, tasks)
    print()
    for outcome in outcomes:
        print(f"{outcome.task_id:45} {outcome.detail}")
    assert len(outcomes) >= 8 and reports["medgym_predict"].failures == []
    for outcome in outcomes:
        figures = FIGURES.search(outcome.detail)
        assert figures, outcome.detail
        reference, constant, random_, threshold = map(float, figures.groups())
        assert reference >= threshold > max(constant, random_) and constant == 0.5


def test_the_certify_command(pack_home: Path) -> None:
    result = subprocess.run([MEDGYM, "tasks", "certify", "--dataset", "medgym_predict", "--dry-run"],
                            env=_env(pack_home), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"medgym_predict\s+(\d+)\s+\1/\1 \(100.0%\)\s+\1/\1 \(100.0%\)", result.stdout), result.stdout


def test_the_oracle_solves_every_prediction_task(pack_home: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "oracle"
    result = subprocess.run([MEDGYM, "eval", "--agent", "oracle", "--dataset", "medgym_predict", "--concurrency", "2",
                             "--run-dir", str(run_dir), "--quiet"], env=_env(pack_home), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = RunDir(run_dir).rows()
    assert len(rows) >= 8 and all(r.correct and r.error is None for r in rows), [r for r in rows if not r.correct]
    assert all("AUROC" in (r.feedback or "") for r in rows)
