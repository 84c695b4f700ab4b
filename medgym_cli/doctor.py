"""`medgym doctor`: check what a working server needs and say how to fix what is missing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mcp_server.settings import Settings
from medgym.errors import SandboxError
from task_store import data, task_data
from task_store.adapters import ADAPTERS
from task_store.loader import discover
from task_store.prediction_data import missing_files


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False


def run_checks(settings: Settings) -> list[Check]:
    checks = [_docker_cli(), *_engine_and_image(settings), _home(settings)]
    checks.extend(_data_dir(settings))
    return checks


def _docker_cli() -> Check:
    path = shutil.which("docker")
    return Check("docker command", path is not None, path or "not found",
                 fix="install Docker (Debian: apt-get install -y docker.io)", optional=True)


def _engine_and_image(settings: Settings) -> list[Check]:
    if settings.backend == "ray":
        from medgym_cli.doctor_ray import ray_checks

        return ray_checks(settings)
    backend = settings.backend_config().build("doctor")
    try:
        engine = backend.describe()
        status = backend.image_status(settings.image)
    except SandboxError as exc:
        return [Check("Docker engine", False, str(exc),
                      fix="start the engine: `dockerd > /var/log/dockerd.log 2>&1 &` (or systemctl start docker)")]
    if not status.present:
        image = Check("sandbox image", False, f"{settings.image} is missing", fix="medgym image build")
    elif not status.current:
        image = Check("sandbox image", False, f"{settings.image} was built from an older definition",
                      fix="medgym image build --force")
    else:
        image = Check("sandbox image", True, f"{settings.image} ({status.build} build, {status.image_id})")
    return [Check("Docker engine", True, engine), image, _fhir_image(backend)]


def _fhir_image(backend: object) -> Check:
    """The per-episode FHIR server image (MedAgentBench and medgym_fhir tasks)."""
    from sandbox.docker_backend import DockerBackend
    from sandbox.fhir_image import fhir_image_status

    if not isinstance(backend, DockerBackend):
        return Check("FHIR server image", False, "FHIR tasks need the Docker backend", optional=True)
    status = fhir_image_status(backend.client)
    if status.current:
        return Check("FHIR server image", True, f"{status.image} ({status.image_id})", optional=True)
    state = "was built from an older definition" if status.present else "is missing"
    return Check("FHIR server image", False, f"{status.image} {state}: FHIR tasks (medgym_fhir, medagentbench) "
                 "cannot start", fix="medgym image build (needs debootstrap and npm)", optional=True)


def _home(settings: Settings) -> Check:
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        probe = settings.home / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check("medgym home", False, f"{settings.home}: {exc}", fix="set MEDGYM_HOME to a writable folder")
    return Check("medgym home", True, str(settings.home))


def _data_dir(settings: Settings) -> list[Check]:
    if settings.data_dir is None:
        return [Check("data directory", True, "none configured (optional: --data-dir or MEDGYM_DATA_DIR)",
                      optional=True)]
    if not settings.data_dir.is_dir():
        return [Check("data directory", False, f"{settings.data_dir} does not exist",
                      fix="pass --data-dir pointing at a MedAgentGym data directory")]
    files = discover(settings.data_dir)
    if not files:
        return [Check("data directory", False, f"no <dataset>/<split>_tasks.jsonl files under {settings.data_dir}",
                      fix="the folder must hold <dataset>/train_tasks.jsonl etc. (e.g. medcalcbench/test_tasks.jsonl)")]
    checks = [Check("data directory", True, f"{settings.data_dir}: {len(files)} task files")]
    for dataset in sorted({f.dataset for f in files}):
        checks.append(_dataset_check(settings.data_dir / dataset, dataset))
    return checks


def _fhir_data(directory: Path, dataset: str, summary: str) -> Check:
    if data.data_available(directory, dataset):
        return Check(f"  {dataset}", True, f"EHR present ({summary})", optional=True)
    return Check(f"  {dataset}", False, "task files only: the EHR is missing, so its tasks can be read but not "
                 "solved or scored", optional=True,
                 fix=f"put the benchmark's FHIR resources in {directory / 'fhir'}/ as JSON (a list or a Bundle) or "
                     "NDJSON (one resource a line, e.g. a bulk $export of its FHIR server); see docs/FHIR.md")


def _dataset_check(directory: Path, dataset: str) -> Check:
    spec = ADAPTERS[dataset].data
    if spec.fhir:
        return _fhir_data(directory, dataset, spec.summary)
    if spec.external:
        return Check(f"  {dataset}", False, f"needs {spec.summary}", optional=True)
    if not spec.required:
        return Check(f"  {dataset}", True, "self-contained: no data files needed", optional=True)
    if missing := missing_files(directory, dataset):
        return Check(f"  {dataset}", False, f"{len(missing)} file(s) its tasks need are missing: "
                     f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}", optional=True,
                     fix=f"put them in {directory} (features, train/val labels, and the test labels, which are "
                         "never mounted)")
    if missing := task_data.missing_studies(directory) if dataset == task_data.STUDY_DATASET else []:
        return Check(f"  {dataset}", False, f"{len(missing)} studies missing (their tasks are listed, not solvable): "
                     f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}", optional=True,
                     fix=f"put each study's files in {directory}/data/<study>/")
    if data.data_available(directory, dataset):
        return Check(f"  {dataset}", True, f"data present ({spec.summary})", optional=True)
    return Check(f"  {dataset}", False, f"task files only: missing {spec.summary}", optional=True,
                 fix=f"put the dataset's files in {directory}")
