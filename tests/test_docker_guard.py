"""The docker marker cannot be escaped: a test without it that reaches the Docker engine fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medgym.errors import SandboxUnavailableError
from sandbox.docker_backend import DockerBackend
from tests.conftest import NOT_MARKED, NOWHERE, DockerNotMarkedError

pytestmark = pytest.mark.timeout(60)

pytest_plugins = ["pytester"]


def test_reaching_docker_unmarked_is_refused_and_recorded(_docker_only_when_marked: list[str]) -> None:
    import docker

    with pytest.raises(DockerNotMarkedError, match="not marked docker"):
        docker.from_env()
    with pytest.raises(SandboxUnavailableError, match="not marked docker"):  # however the backend reports it
        DockerBackend("tests-guard").ping()
    assert len(_docker_only_when_marked) == 2
    _docker_only_when_marked.clear()  # this test expects them: do not fail it


def test_subprocesses_get_an_engine_address_that_points_nowhere() -> None:
    assert os.environ["DOCKER_HOST"] == NOWHERE and "MEDGYM_DOCKER_HOST" not in os.environ
    probe = "import docker\ntry:\n    docker.from_env().ping()\nexcept Exception:\n    raise SystemExit(3)"
    assert subprocess.run([sys.executable, "-c", probe], timeout=60).returncode == 3


def test_a_swallowed_attempt_still_fails_the_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    pytester.makeconftest("pytest_plugins = ['tests.conftest']")
    pytester.makepyfile(test_escape="""
        from sandbox.docker_backend import DockerBackend

        def test_escapes():
            try:
                DockerBackend("tests-guard").ping()
            except Exception:
                pass  # code under test that swallows the failure

        def test_fine():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([f"*{NOT_MARKED[:60]}*"])
