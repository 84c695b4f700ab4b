"""The sandbox of a FHIR episode: the agent's container together with the episode's FHIR server.

`FhirSandbox` is one `Sandbox` to the rest of medgym: `run` and `alive` go to the agent's
container, `close` removes the container, the server and the episode's network, and the grader
reads the agent's writes with `writes()`. The agent reaches the server at `FHIR_BASE_URL` and
nothing else (see `sandbox.fhir`).

When the server dies the episode cannot go on: a run that ends with the server gone raises
`SandboxLostError` (a "medgym server problem"), never returns the connection errors the agent's
code saw as if they were its output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from medgym.errors import SandboxError, SandboxLostError
from sandbox.contract import ExecResult, Sandbox, SandboxNetwork, SandboxSpec
from sandbox.fhir import FhirConfig, FhirServer, start_fhir_server

log = logging.getLogger(__name__)

EPISODE_LABEL = "medgym.episode"


class FhirSandbox:
    """An agent sandbox on its episode's network, and that episode's FHIR server."""

    def __init__(self, sandbox: Sandbox, server: FhirServer):
        self._sandbox = sandbox
        self.server = server
        self._closed = False

    @property
    def sandbox_id(self) -> str:
        return self._sandbox.sandbox_id

    def run(self, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult:
        self._check_server()
        result = self._sandbox.run(code, timeout_s, max_output_bytes)
        self._check_server()
        return result

    def read_file(self, path: str, max_bytes: int) -> bytes:
        return self._sandbox.read_file(path, max_bytes)

    def _check_server(self) -> None:
        if not self.server_alive():
            raise SandboxLostError(
                f"the episode's FHIR server stopped ({self.server.server_id}); its data and the writes made "
                "to it are gone")

    def server_alive(self) -> bool:
        try:
            return self.server.ping()
        except SandboxError:
            return False

    def alive(self) -> bool:
        return self._sandbox.alive() and self.server_alive()

    def writes(self) -> list[dict[str, Any]]:
        """What the agent created, updated or deleted on the server (raises `SandboxLostError` if it is gone)."""
        return self.server.writes()

    def reload(self) -> None:
        """Back to the pristine data, with no writes recorded (certify's probes)."""
        self.server.load_seed()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._sandbox.close()
        finally:
            self.server.close()


def start_fhir_sandbox(client: Any, start: Callable[[SandboxSpec], Sandbox], spec: SandboxSpec, seed: Path,
                       config: FhirConfig) -> FhirSandbox:
    """Start the episode's FHIR server (its network, loaded with `seed`), then its sandbox on that
    network. Blocking. Raises `SandboxUnavailableError`; nothing is left behind on failure."""
    server = start_fhir_server(client, spec.labels.get(EPISODE_LABEL, "pool"), config, seed=seed)
    try:
        box = start(replace(spec, network=SandboxNetwork(name=server.network.name, dns=server.network.gateway)))
    except BaseException:
        server.close()
        raise
    log.info("FHIR episode bundle ready: sandbox %s, server %s", box.sandbox_id, server.server_id)
    return FhirSandbox(box, server)
