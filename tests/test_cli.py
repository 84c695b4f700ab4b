"""The command line: datasets, tasks list/show, image status, doctor, and errors a user can act on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IMAGE

MEDGYM = str(Path(sys.executable).parent / "medgym")


def _medgym(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MEDGYM_HOME": str(tmp_path / "home"), "MEDGYM_PACK": "0",
                   "MEDGYM_IMAGE": IMAGE, **env}
    return subprocess.run([MEDGYM, *args], env=environment, capture_output=True, text=True, timeout=300)


def test_datasets_and_tasks(tmp_path: Path, shared_dir: Path) -> None:
    listing = _medgym(tmp_path, "datasets", "--json", "--data-dir", str(shared_dir))
    assert listing.returncode == 0, listing.stderr
    counts = {(r["dataset"], r["split"]): r["count"] for r in json.loads(listing.stdout)}
    assert counts[("medcalcbench", "test")] == 220 and counts[("npowerai", "train")] == 865
    tasks = _medgym(tmp_path, "tasks", "list", "--dataset", "npowerai", "--limit", "2", "--json",
                    "--data-dir", str(shared_dir))
    page = json.loads(tasks.stdout)
    assert page["total"] == 865 and len(page["tasks"]) == 2
    shown = _medgym(tmp_path, "tasks", "show", "medcalcbench/test/6", "--data-dir", str(shared_dir))
    assert shown.returncode == 0 and "Japanese" in shown.stdout and "88.1" not in shown.stdout
    missing = _medgym(tmp_path, "tasks", "show", "medcalcbench/test/nope", "--data-dir", str(shared_dir))
    assert missing.returncode == 1 and "list_tasks" in missing.stderr


def test_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    bad = _medgym(tmp_path, "datasets", MEDGYM_MAX_ATTEMPTS="zero")
    assert bad.returncode == 2 and "MEDGYM_MAX_ATTEMPTS" in bad.stderr
    nothing = _medgym(tmp_path, "datasets")
    assert nothing.returncode == 1 and "--data-dir" in nothing.stderr


@pytest.mark.usefixtures("docker_ready")
def test_doctor_and_image_status(tmp_path: Path, shared_dir: Path) -> None:
    status = _medgym(tmp_path, "image", "status")
    assert status.returncode == 0 and "present, current" in status.stdout
    doctor = _medgym(tmp_path, "doctor", "--data-dir", str(shared_dir))
    assert doctor.returncode == 0, doctor.stdout
    assert "[ok] Docker engine" in doctor.stdout and "[ok] sandbox image" in doctor.stdout
    assert "mimic_iii: task files only: missing the 17 MIMIC-III CSV tables" in doctor.stdout
    broken = _medgym(tmp_path, "doctor", MEDGYM_IMAGE="medgym-sandbox:does-not-exist")
    assert broken.returncode == 1 and "fix: medgym image build" in broken.stdout


def test_eval_says_in_one_line_what_stopped_it(tmp_path: Path, shared_dir: Path) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there
    common = ("eval", "--agent", "oracle", "--quiet", "--run-dir", str(tmp_path / "run"))
    unreachable = _medgym(tmp_path, *common, "--url", url)
    assert unreachable.returncode == 1 and f"medgym: could not reach {url}: ConnectError" in unreachable.stderr
    unknown = _medgym(tmp_path, *common, "--dataset", "nope", "--data-dir", str(shared_dir), MEDGYM_POOL_SIZE="0")
    assert unknown.returncode == 1 and "medgym: unknown dataset 'nope'; datasets here: " in unknown.stderr
    assert "Traceback" not in unreachable.stderr + unknown.stderr
