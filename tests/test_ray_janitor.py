"""A Ray worker that made a container and was SIGKILLed leaves nothing, with Ray's process cleanup as
it is by default and with its raylet subreaper on.

With `RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper=true` Ray makes each worker a
subreaper, so the janitor (`sandbox/janitor.py`, detached by a double fork) stays the worker's child,
and Ray kills it within seconds of the worker's death. The owner here is a Ray actor that creates a
container and never starts it: only its janitor can remove that container.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import IMAGE
from tests.ray_cluster import start_cluster
from tests.test_janitor import _janitors_of

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
SUBREAPER = "RAY_kill_child_processes_on_worker_exit_with_raylet_subreaper"
DRIVER = """
import os, sys, time
import ray

ray.init(address=sys.argv[1], runtime_env={"env_vars": {"PYTHONPATH": sys.argv[3]}}, logging_level="ERROR")


@ray.remote
class Owner:
    def make(self, image):
        from sandbox.contract import SandboxSpec
        from sandbox.docker_backend import DockerBackend
        from sandbox.limits import Limits

        backend = DockerBackend("tests-ray-janitor")
        return os.getpid(), backend._create(SandboxSpec(image=image, limits=Limits(),
                                                        labels={"medgym.test": "ray-janitor"}))


owner = Owner.remote()
pid, container = ray.get(owner.make.remote(sys.argv[2]))
print(pid, container, flush=True)
time.sleep(600)  # the actor lives while its driver does
"""


@pytest.mark.usefixtures("docker_ready")
@pytest.mark.parametrize("subreaper", [False, True], ids=["ray-default", "raylet-subreaper"])
def test_a_sigkilled_ray_worker_leaves_no_created_container(subreaper: bool) -> None:
    cluster = start_cluster(None, {SUBREAPER: "true" if subreaper else "false"})
    client = docker.from_env()
    container = ""
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, cluster.address, IMAGE, str(ROOT)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        assert driver.stdout is not None
        pid_text, container = driver.stdout.readline().split()
        worker = int(pid_text)
        assert client.api.inspect_container(container)["State"]["Status"] == "created"  # never started
        watchers = _janitors_of(worker)
        assert len(watchers) == 1
        print(f"the janitor's parent: {'the worker' if watchers[0][1] == worker else watchers[0][1]}")
        os.kill(worker, signal.SIGKILL)
        started = time.monotonic()
        while client.api.containers(all=True, filters={"id": container}):
            assert time.monotonic() - started < 15, "the killed worker's container is still there"
            time.sleep(0.2)
        print(f"the killed worker's container was gone after {time.monotonic() - started:.1f} s")
    finally:
        driver.kill()
        driver.wait()
        cluster.stop()
        if container and client.api.containers(all=True, filters={"id": container}):
            client.api.remove_container(container, force=True)
