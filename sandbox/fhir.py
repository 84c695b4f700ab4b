"""One FHIR R4 server per episode, on an internal Docker network that only the episode's sandbox joins.

The server (`sandbox_images/fhir/server.mjs`: Medplum's FHIR router over its in-memory repository)
serves `http://fhir:8080/fhir/` on the episode's network and takes admin requests (load the
pristine data, list the agent's writes) as JSON lines on its attach stream, which no container
can reach. Every episode gets a fresh server and network, so one episode's writes are never seen
by another.

The network is a bridge with `internal` set (no forwarding beyond its subnet) and
`com.docker.network.bridge.inhibit_ipv4` (the host puts no address on the bridge): on a plain
internal network a container still reaches every address of the host through the bridge's
gateway address. Subnets are small and taken from `FhirConfig.subnet_pool`, so the number of
episodes is not bounded by Docker's default address pools (31 networks).
"""

from __future__ import annotations

import ipaddress
import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medgym.errors import SandboxError, SandboxLostError, SandboxUnavailableError
from sandbox import janitor
from sandbox.channel import RunnerChannel
from sandbox.containers import remove_container, why_stopped
from sandbox.fhir_image import FHIR_IMAGE, build_fhir_image, fhir_image_status
from sandbox.labels import MANAGED, OWNER, is_orphan, owner_label

log = logging.getLogger(__name__)

__all__ = ["FHIR_BASE_URL", "FHIR_IMAGE", "EpisodeNetwork", "FhirConfig", "FhirServer", "build_fhir_image",
           "fhir_image_status", "reap_orphan_networks", "remove_network", "sandbox_network_kwargs",
           "start_fhir_server"]

FHIR_ALIAS = "fhir"
FHIR_PORT = 8080
FHIR_BASE_URL = f"http://{FHIR_ALIAS}:{FHIR_PORT}/fhir/"
FHIR_USER = "1000:1000"
SEED_DIR = "/seed"
KIND_LABEL = "medgym.kind"
EPISODE_LABEL = "medgym.episode"
READY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 120.0
NETWORK_OPTIONS = {
    "com.docker.network.bridge.inhibit_ipv4": "true",  # the host has no address the sandbox could reach
    "com.docker.network.bridge.enable_ip_masquerade": "false",
    "com.docker.network.bridge.enable_icc": "true",  # sandbox <-> FHIR server
}


@dataclass(frozen=True)
class FhirConfig:
    """How each episode's FHIR server runs."""

    image: str = FHIR_IMAGE
    memory_mb: int = 768
    cpus: float = 1.0
    pids: int = 64
    subnet_pool: str = "10.213.0.0/16"
    subnet_prefix: int = 28
    instance_id: str = "fhir"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EpisodeNetwork:
    name: str
    subnet: str
    gateway: str  # allocated by IPAM but never assigned to the host (inhibit_ipv4): unreachable


class FhirServer:
    """A running FHIR server container on its episode network, with its admin channel."""

    def __init__(self, client: Any, network: EpisodeNetwork, container_id: str, channel: RunnerChannel,
                 info: dict[str, Any]):
        self._client = client
        self.network = network
        self._id = container_id
        self._channel = channel
        self.info = info
        self._closed = False

    @property
    def server_id(self) -> str:
        return self._id[:12]

    @property
    def container_id(self) -> str:
        return self._id

    def request(self, message: dict[str, Any], timeout_s: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        """One admin request; raises `SandboxLostError` when the server is gone, `SandboxError` on an error reply."""
        if self._closed or self._channel.closed:
            raise SandboxLostError(f"FHIR server {self.server_id} is no longer running")
        try:
            reply = self._channel.request(message, timeout_s)
        except SandboxLostError as exc:
            raise SandboxLostError(f"FHIR server {self.server_id}: {exc}{self._why_stopped()}") from exc
        if reply.get("event") == "error":
            raise SandboxError(f"FHIR server {self.server_id}: {message.get('op')} failed: {reply.get('message')}")
        return reply

    def ping(self) -> bool:
        return self.request({"op": "ping"}, 5.0).get("event") == "pong"

    def load(self, data: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
        """Replace the server's data with `data` (resources or a Bundle) and start recording writes."""
        key = "bundle" if isinstance(data, dict) else "resources"
        return self.request({"op": "load", key: data})

    def load_seed(self) -> dict[str, Any]:
        """Load the seed file mounted at start (see `start_fhir_server`)."""
        seed = self.info.get("seed")
        if not seed:
            raise SandboxError("this FHIR server was started without a seed file")
        return self.request({"op": "load", "path": seed})

    def writes(self) -> list[dict[str, Any]]:
        """Every resource created, updated or deleted over HTTP since the last load, in order:
        `{"interaction": "create"|"update"|"delete", "resource": {...}}`."""
        found: list[dict[str, Any]] = self.request({"op": "writes"})["writes"]
        return found

    def sandbox_network_kwargs(self) -> dict[str, Any]:
        """What a sandbox container needs to join this episode's network; see `sandbox_network_kwargs`."""
        return sandbox_network_kwargs(self.network)

    def _why_stopped(self) -> str:
        return why_stopped(self._client, self._id, closed=self._closed)

    def close(self) -> None:
        """Remove the container and the network (disconnecting anything still attached). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._channel.close()
        remove_container(self._client, self._id)
        remove_network(self._client, self.network.name)


def sandbox_network_kwargs(network: EpisodeNetwork) -> dict[str, Any]:
    """Arguments for `APIClient.create_container` of a sandbox that joins `network`.

    `host_config` holds keys to merge into the sandbox's host config in place of
    `network_mode="none"`; `networking_config` is passed to `create_container` as is. The DNS
    server is the network's unreachable gateway address: Docker's embedded DNS still answers
    `fhir`, and anything it would forward goes nowhere (Docker < 26 otherwise forwards internal
    networks' queries through the host when the host's resolver is a loopback address).
    """
    return {
        "host_config": {"network_mode": network.name, "dns": [network.gateway], "dns_search": ["."]},
        "networking_config": {"EndpointsConfig": {network.name: {}}},
    }


def start_fhir_server(client: Any, episode_id: str, config: FhirConfig | None = None,
                      seed: Path | None = None) -> FhirServer:
    """Create the episode's network and FHIR server, wait until it serves; with `seed` (a JSON file
    of resources or a Bundle, mounted read-only), also load it. Raises `SandboxUnavailableError`."""
    config = config or FhirConfig()
    started = time.monotonic()
    network = create_episode_network(client, episode_id, config)
    try:
        server = _start_container(client, network, episode_id, config, seed)
    except BaseException:
        remove_network(client, network.name)
        raise
    server.info["start_ms"] = _ms_since(started)
    if seed is not None:
        server.info["load"] = _load_or_close(server)
    log.info("FHIR server %s for episode %s ready in %.0f ms", server.server_id, episode_id, _ms_since(started))
    return server


def _load_or_close(server: FhirServer) -> dict[str, Any]:
    try:
        return server.load_seed()
    except BaseException:
        server.close()
        raise


def create_episode_network(client: Any, episode_id: str, config: FhirConfig, attempts: int = 20) -> EpisodeNetwork:
    """A fresh internal network with a free subnet from `config.subnet_pool`."""
    name = f"medgym-fhir-{secrets.token_hex(6)}"
    labels = {MANAGED: "1", OWNER: owner_label(), KIND_LABEL: "fhir-network", EPISODE_LABEL: episode_id,
              "medgym.instance": config.instance_id, **config.labels}
    janitor.guard(client)
    for _ in range(attempts):
        subnet = _random_subnet(config.subnet_pool, config.subnet_prefix)
        gateway = str(next(subnet.hosts()))
        ipam = {"Driver": "default", "Config": [{"Subnet": str(subnet), "Gateway": gateway}]}
        try:
            client.api.create_network(name, driver="bridge", internal=True, options=NETWORK_OPTIONS, ipam=ipam,
                                      labels=labels, check_duplicate=True, enable_ipv6=False)
        except Exception as exc:
            if "overlap" in str(exc).lower():
                continue  # another network holds this subnet: try another one
            raise SandboxUnavailableError(f"could not create the episode's FHIR network: {exc}") from exc
        return EpisodeNetwork(name=name, subnet=str(subnet), gateway=gateway)
    raise SandboxUnavailableError(f"no free /{config.subnet_prefix} subnet left in {config.subnet_pool}")


def _random_subnet(pool: str, prefix: int) -> ipaddress.IPv4Network:
    network = ipaddress.IPv4Network(pool)
    count = 2 ** (prefix - network.prefixlen)
    step = 2 ** (32 - prefix)
    return ipaddress.IPv4Network((int(network.network_address) + random.randrange(count) * step, prefix))


def _start_container(client: Any, network: EpisodeNetwork, episode_id: str, config: FhirConfig,
                     seed: Path | None) -> FhirServer:
    container_id = _create_container(client, network, episode_id, config, seed)
    try:
        sock = client.api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        channel = RunnerChannel(sock._sock, f"fhir-{container_id[:12]}")
        client.api.start(container_id)
        ready = channel.receive(READY_TIMEOUT_S)
    except Exception as exc:
        remove_container(client, container_id)
        if isinstance(exc, SandboxError):
            raise
        raise SandboxUnavailableError(f"could not start the FHIR server: {exc}") from exc
    if ready.get("event") != "ready":
        remove_container(client, container_id)
        raise SandboxUnavailableError(f"the FHIR server did not start: {ready}")
    if seed is not None:
        ready["seed"] = f"{SEED_DIR}/{seed.name}"
    return FhirServer(client, network, container_id, channel, ready)


def _create_container(client: Any, network: EpisodeNetwork, episode_id: str, config: FhirConfig,
                      seed: Path | None) -> str:
    api = client.api
    labels = {MANAGED: "1", OWNER: owner_label(), KIND_LABEL: "fhir", EPISODE_LABEL: episode_id,
              "medgym.instance": config.instance_id, "medgym.network": network.name, **config.labels}
    binds = {str(seed.resolve()): {"bind": f"{SEED_DIR}/{seed.name}", "mode": "ro"}} if seed else {}
    janitor.guard(client)
    try:
        created = api.create_container(
            config.image, stdin_open=True, detach=False, tty=False, user=FHIR_USER, hostname=FHIR_ALIAS,
            labels=labels, environment={"NODE_OPTIONS": f"--max-old-space-size={config.memory_mb * 3 // 4}"},
            host_config=api.create_host_config(**fhir_host_config_args(network, config, binds)),
            networking_config={"EndpointsConfig": {network.name: {"Aliases": [FHIR_ALIAS]}}},
        )
    except Exception as exc:
        missing = "No such image" in str(exc) or "not found" in str(exc).lower()
        hint = f"the FHIR image {config.image} is missing; build it with build_fhir_image()" if missing else str(exc)
        raise SandboxUnavailableError(f"could not create the FHIR server: {hint}") from exc
    return str(created["Id"])


def fhir_host_config_args(network: EpisodeNetwork, config: FhirConfig, binds: dict[str, Any]) -> dict[str, Any]:
    """The FHIR server's isolation: only its episode network, no capabilities, read-only root, limits."""
    return {
        "network_mode": network.name,
        "dns": [network.gateway],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777"},
        "mem_limit": f"{config.memory_mb}m",
        "memswap_limit": f"{config.memory_mb}m",
        "nano_cpus": int(config.cpus * 1e9),
        "pids_limit": config.pids,
        "ipc_mode": "private",
        "auto_remove": True,  # the server exits at EOF on stdin (medgym gone) and the container goes
        "binds": binds,
    }


def remove_network(client: Any, name: str, attempts: int = 10) -> bool:
    """Disconnect whatever is still attached (the episode's sandbox), then remove the network."""
    for _ in range(attempts):
        try:
            attached = client.api.inspect_network(name).get("Containers") or {}
            for container_id in attached:
                client.api.disconnect_container_from_network(container_id, name, force=True)
            client.api.remove_network(name)
            return True
        except Exception as exc:
            if "not found" in str(exc).lower():
                return True
            log.debug("removing network %s: %s", name, exc)
            time.sleep(0.2)
    log.warning("could not remove the FHIR network %s; the reaper will retry", name)
    return False


def reap_orphan_networks(client: Any) -> int:
    """Remove FHIR networks whose medgym server no longer runs (after its containers are reaped)."""
    removed = 0
    for network in client.api.networks(filters={"label": [f"{MANAGED}=1", f"{KIND_LABEL}=fhir-network"]}):
        if is_orphan(network.get("Labels") or {}) and remove_network(client, network["Name"], attempts=1):
            removed += 1
    return removed


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
