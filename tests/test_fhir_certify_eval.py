"""medgym_fhir through the command line: certify a stratified sample, and the oracle scores 100% in eval.

The full certification (220 tasks, one episode bundle each) takes about 8 minutes on this 2-core
machine; CI certifies 30 tasks (3 per family), which covers every family's probes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IMAGE
from tests.test_fhir_server import docker_client, fhir_image  # noqa: F401 (fixtures)
from trajectory.rundir import RunDir

MEDGYM = str(Path(sys.executable).parent / "medgym")


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MEDGYM_HOME": str(home), "MEDGYM_IMAGE": IMAGE, "MEDGYM_POOL_SIZE": "2",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **extra}


@pytest.mark.usefixtures("docker_ready", "fhir_image")
def test_certify_a_stratified_sample_of_medgym_fhir(pack_home: Path) -> None:
    result = subprocess.run([MEDGYM, "tasks", "certify", "--dataset", "medgym_fhir", "--limit", "30", "--dry-run"],
                            env=_env(pack_home), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("medgym_fhir"))
    assert row.split()[1] == "30" and row.count("30/30 (100.0%)") == 2, row


@pytest.mark.usefixtures("docker_ready", "fhir_image")
def test_the_oracle_scores_every_sampled_task(pack_home: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "oracle"
    result = subprocess.run([MEDGYM, "eval", "--run-dir", str(run_dir), "--quiet", "--agent", "oracle",
                             "--dataset", "medgym_fhir", "--limit", "20", "--concurrency", "2"],
                            env=_env(pack_home), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = RunDir(run_dir).rows()
    assert len(rows) == 20 and all(r.correct and r.error is None for r in rows), [r for r in rows if not r.correct]
    assert "100.0%" in result.stdout
