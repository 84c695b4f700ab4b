"""`medgym doctor` for the Ray backend: the cluster answers, and every sandbox node has Docker and the image."""

from __future__ import annotations

from mcp_server.settings import Settings
from medgym.errors import SandboxError
from medgym_cli.doctor import Check
from sandbox.ray_backend import NodeReport, RayBackend

START_NODE = "ray start --address=<head> --resources='{\"medgym_sandbox\": 8}' (on a machine with Docker)"


def ray_checks(settings: Settings) -> list[Check]:
    backend = settings.backend_config().build("doctor")
    assert isinstance(backend, RayBackend)
    try:
        cluster = backend.describe()
        reports = backend.node_reports(settings.image)
    except SandboxError as exc:
        return [Check("Ray cluster", False, str(exc), fix=f"start the cluster and its nodes: {START_NODE}; "
                      "set MEDGYM_RAY_ADDRESS to the head's address")]
    checks = [Check("Ray cluster", True, cluster)]
    checks.extend(_node_check(report, settings.image) for report in reports)
    checks.append(Check("FHIR tasks", False, "FHIR tasks (medgym_fhir, medagentbench) need the Docker backend: "
                        "they are refused on a Ray cluster", optional=True))
    return checks


def _node_check(report: NodeReport, image: str) -> Check:
    name = f"  node {report.node.label}"
    if report.info is None or report.problem:
        return Check(name, False, report.problem or "no answer", fix="start Docker on the node, or set DOCKER_HOST "
                     "in the environment of its `ray start`")
    engine = f"Docker {report.info.engine_version} at {report.info.engine}, {report.node.slots:g} slots"
    status = report.image
    if status is None or not status.present:
        return Check(name, False, f"{engine}; {image} is missing",
                     fix=f"docker save {image} | ssh <node> docker load (or medgym image build on the node)")
    if not status.current:
        return Check(name, False, f"{engine}; {image} was built from an older definition",
                     fix="rebuild it (medgym image build --force) and copy it to every node")
    return Check(name, True, f"{engine}; {image} ({status.build} build, {status.image_id})")
