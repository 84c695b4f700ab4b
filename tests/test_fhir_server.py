"""The per-episode FHIR server: MedAgentBench's searches and writes over real HTTP from a sandbox on
the episode's network, the network's isolation (no internet, no host, no other episode), and the
server's lifecycle. Real Docker; the FHIR image is built when missing or stale."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest

from medgym.errors import SandboxError, SandboxLostError
from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend, host_config_args
from sandbox.fhir import (
    FHIR_BASE_URL,
    FhirConfig,
    FhirServer,
    build_fhir_image,
    create_episode_network,
    fhir_image_status,
    reap_orphan_networks,
    start_fhir_server,
)
from sandbox.labels import MANAGED, OWNER, owner_label
from sandbox.limits import Limits
from tests import fhir_data
from tests.conftest import IMAGE

TEST_LABEL = {"medgym.test": "fhir"}

# runs in the sandbox: performs HTTP requests against the episode's FHIR server, prints the replies
CLIENT = r"""
import json, sys, urllib.error, urllib.request
out = []
for method, path, body in json.loads(sys.argv[1]):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method,
                                     headers={"Content-Type": "application/fhir+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            out.append([reply.status, json.load(reply), dict(reply.headers)])
    except urllib.error.HTTPError as error:
        out.append([error.code, json.load(error), dict(error.headers)])
print(json.dumps(out))
"""

# runs in the sandbox: tries TCP connections and name lookups, reports what happened
PROBE = r"""
import concurrent.futures, json, os, socket, sys
targets, names = json.loads(sys.argv[1])
def connect(target):
    try:
        socket.create_connection(tuple(target), timeout=5).close()
        return "connected"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
def resolve(name):
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(name, 80)})
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
with concurrent.futures.ThreadPoolExecutor(len(targets) + len(names)) as pool:
    connections = list(pool.map(connect, targets))
    lookups = list(pool.map(resolve, names))
inet6 = open("/proc/net/if_inet6").read() if os.path.exists("/proc/net/if_inet6") else ""
print(json.dumps({"connections": connections, "lookups": lookups,
                  "routes": open("/proc/net/route").read().splitlines()[1:], "inet6": inet6}))
"""


@pytest.fixture(scope="session")
def docker_client(docker_ready: None) -> Any:
    return DockerBackend("tests-fhir").client


@pytest.fixture(scope="session")
def fhir_image(docker_client: Any) -> str:
    """The FHIR image, built (about a minute) when it is missing or stale."""
    if not fhir_image_status(docker_client).current:
        try:
            build_fhir_image(docker_client)
        except Exception as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"the FHIR image cannot be built here: {exc}")
    return fhir_image_status(docker_client).image


@pytest.fixture(scope="session")
def seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fhir-seed") / "ehr.json"
    path.write_text(json.dumps(fhir_data.dataset()))
    return path


@pytest.fixture
def start(docker_client: Any, fhir_image: str, seed_file: Path) -> Iterator[Any]:
    """Starts seeded FHIR servers for the test; afterwards checks that none left a container or network."""
    servers: list[FhirServer] = []

    def _start(episode_id: str) -> FhirServer:
        server = start_fhir_server(docker_client, episode_id, FhirConfig(image=fhir_image, labels=TEST_LABEL),
                                   seed=seed_file)
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.close()
    assert not _leftovers(docker_client)


def _leftovers(client: Any) -> list[str]:
    labels = [f"{OWNER}={owner_label()}", "medgym.test=fhir"]
    containers = [c["Id"][:12] for c in client.api.containers(all=True, filters={"label": labels})]
    networks = [n["Name"] for n in client.api.networks(filters={"label": labels})]
    return containers + networks


def run_sandbox(client: Any, network_kwargs: dict[str, Any] | None, code: str, argument: Any) -> Any:
    """Run `code` in a sandbox container locked down like every sandbox (docker_backend.host_config_args),
    on the episode network described by `network_kwargs` (None: Docker's default bridge, as a control)."""
    api = client.api
    args = host_config_args(SandboxSpec(image=IMAGE, limits=Limits())) | {"auto_remove": False}
    args |= network_kwargs["host_config"] if network_kwargs else {"network_mode": "bridge"}
    created = api.create_container(
        IMAGE, command=["python3", "-c", code, json.dumps(argument)], user="1000:1000", working_dir="/workspace",
        labels={MANAGED: "1", OWNER: owner_label(), **TEST_LABEL}, host_config=api.create_host_config(**args),
        networking_config=network_kwargs["networking_config"] if network_kwargs else None,
    )
    try:
        api.start(created["Id"])
        status = api.wait(created["Id"], timeout=120)
        stdout = api.logs(created["Id"], stdout=True, stderr=False).decode()
        stderr = api.logs(created["Id"], stdout=False, stderr=True).decode()
    finally:
        api.remove_container(created["Id"], force=True)
    assert status["StatusCode"] == 0, stderr
    return json.loads(stdout)


def fhir_requests(client: Any, server: FhirServer, requests: list[tuple[str, str, Any]]) -> list[Any]:
    code = f"BASE = {FHIR_BASE_URL!r}\n" + CLIENT
    replies: list[Any] = run_sandbox(client, server.sandbox_network_kwargs(), code, requests)
    return replies


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


# ---------------------------------------------------------------- expectations from the data set

DATA = fhir_data.dataset()
PATIENT = next(r for r in DATA if r["resourceType"] == "Patient" and r["id"] == fhir_data.mrn(42))
CUTOFF = (fhir_data.NOW - timedelta(hours=24)).isoformat()


def labs(mrn: str, code: str, since: str | None = None) -> list[dict[str, Any]]:
    found = [r for r in DATA if r["resourceType"] == "Observation" and r["subject"]["reference"] == f"Patient/{mrn}"
             and r["code"].get("coding", [{}])[0].get("code") == code]
    return [r for r in found if since is None or r["effectiveDateTime"] >= since]


def newest_first(resources: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(resources, key=lambda r: r["effectiveDateTime"], reverse=True)]


BP_POST = {"resourceType": "Observation", "category": [{"coding": [{
    "system": "http://hl7.org/fhir/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
    "code": {"text": "BP"}, "effectiveDateTime": "2023-11-13T10:15:00+00:00", "status": "final",
    "valueString": "118/77 mmHg", "subject": {"reference": f"Patient/{PATIENT['id']}"}}
# as MedAgentBench's reference grader expects it: `route` is a plain string, which is not valid FHIR
MED_POST = {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [{
    "system": "http://hl7.org/fhir/sid/ndc", "code": "0338-1715-40"}], "text": "Magnesium sulfate"},
    "authoredOn": "2023-11-13T10:15:00+00:00", "dosageInstruction": [{"route": "IV", "doseAndRate": [{
        "doseQuantity": {"value": 2, "unit": "g"}, "rateQuantity": {"value": 2, "unit": "h"}}]}],
    "status": "active", "intent": "order", "subject": {"reference": f"Patient/{PATIENT['id']}"}}
SR_POST = {"resourceType": "ServiceRequest", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
           "authoredOn": "2023-11-13T10:15:00+00:00", "status": "active", "intent": "order", "priority": "stat",
           "subject": {"reference": f"Patient/{PATIENT['id']}"}, "note": {"text": "HbA1C"},
           "occurrenceDateTime": "2023-11-14T08:00:00+00:00", "id": "client-chosen-id"}


def test_medagentbench_searches_and_writes(docker_client: Any, start: Any) -> None:
    server = start("episode-search")
    assert server.info["load"]["count"] == len(DATA)
    mrn, (given,), family = PATIENT["id"], PATIENT["name"][0]["given"], PATIENT["name"][0]["family"]
    mg = labs(mrn, "MG")
    requests: list[tuple[str, str, Any]] = [
        ("GET", "metadata", None),
        ("GET", f"Patient?given={given}&family={family}&birthdate={PATIENT['birthDate']}&_format=json", None),
        ("GET", f"Patient?name={given.lower()}&birthdate={PATIENT['birthDate']}", None),
        ("GET", f"Patient?family={family}&birthdate=1800-01-01", None),
        ("GET", f"Patient?identifier={mrn}&_format=json", None),
        ("GET", f"Patient?identifier={fhir_data.MRN_SYSTEM}|{mrn}", None),
        ("GET", f"Observation?patient={mrn}&code=MG&_count=5000&_format=json", None),
        ("GET", f"Observation?patient=Patient/{mrn}&code=MG&date=ge{quote(CUTOFF)}", None),
        ("GET", f"Observation?patient={mrn}&code=MG&date=gt{quote(CUTOFF)}&_sort=-date", None),
        ("GET", f"Observation?patient={mrn}&code=MG&_sort=-date&_count=1", None),
        ("GET", f"Observation?patient={mrn}&category=vital-signs&date=ge2023-11-01", None),
        ("GET", f"Condition?patient={mrn}&category=problem-list-item", None),
        ("GET", f"MedicationRequest?patient={mrn}", None),
        ("GET", f"Procedure?patient={mrn}&date=ge2020-01-01", None),
        ("GET", f"Observation?patient={mrn}&flowsheet=BP", None),
        ("GET", "Widget?patient=1", None),
        ("POST", "Observation", BP_POST),
        ("POST", "MedicationRequest", MED_POST),
        ("POST", "ServiceRequest", SR_POST),
        ("GET", f"Observation?patient={mrn}&category=vital-signs&date=ge2023-11-13", None),
    ]
    replies = fhir_requests(docker_client, server, requests)
    assert len(replies) == len(requests)
    assert all(status == 200 for status, _, _ in replies[:14]), [r[:2] for r in replies]
    metadata = replies[0][1]
    assert metadata["resourceType"] == "CapabilityStatement" and metadata["fhirVersion"] == "4.0.1"
    for _, bundle, headers in replies[1:14]:
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
        assert headers["Content-Type"].startswith("application/fhir+json")
        assert all(e["fullUrl"].startswith(FHIR_BASE_URL) for e in bundle.get("entry", []))
    patient_searches = replies[1:6]
    assert [ids(b) for _, b, _ in patient_searches] == [[mrn], [mrn], [], [mrn], [mrn]]
    assert patient_searches[2][1]["total"] == 0 and "entry" not in patient_searches[2][1]
    assert sorted(ids(replies[6][1])) == sorted(r["id"] for r in mg) and replies[6][1]["total"] == len(mg)
    assert sorted(ids(replies[7][1])) == sorted(r["id"] for r in labs(mrn, "MG", CUTOFF))
    assert ids(replies[8][1]) == [i for i in newest_first(mg) if i in {r["id"] for r in labs(mrn, "MG", CUTOFF)}]
    newest = replies[9][1]
    assert ids(newest) == newest_first(mg)[:1] and newest["total"] == len(mg)
    assert [link["relation"] for link in newest["link"]] == ["self", "next"] and "_offset=1" in newest["link"][1]["url"]
    assert sorted(ids(replies[10][1])) == [f"bp-{mrn}-0", f"bp-{mrn}-1"]  # vitals of 11-12 and 11-11
    assert ids(replies[11][1]) == [f"cond-{mrn}"]
    assert ids(replies[12][1]) == [f"med-{mrn}"]
    assert ids(replies[13][1]) == [f"proc-{mrn}"]
    assert replies[14][0] == 400 and "flowsheet" in json.dumps(replies[14][1])  # unknown parameter: an error
    assert replies[15][0] == 404 and "Widget" in json.dumps(replies[15][1])
    _check_posts(server, replies[16:19], replies[19][1])


def _check_posts(server: FhirServer, posts: list[Any], vitals: dict[str, Any]) -> None:
    assert [status for status, _, _ in posts] == [201, 201, 201]
    for (_, stored, headers), sent in zip(posts, (BP_POST, MED_POST, SR_POST), strict=True):
        assert {k: v for k, v in stored.items() if k not in ("id", "meta")} == {k: v for k, v in sent.items()
                                                                                 if k != "id"}
        assert headers["Location"].startswith(f"{FHIR_BASE_URL}{sent['resourceType']}/{stored['id']}/_history/")
    assert posts[2][1]["id"] != "client-chosen-id"  # the server assigns ids on create, as Medplum's server does
    assert ids(vitals) == [posts[0][1]["id"]]  # the agent's own write is searchable right away
    writes = server.writes()
    assert [w["interaction"] for w in writes] == ["create"] * 3
    assert [w["resource"] for w in writes] == [stored for _, stored, _ in posts]


def test_writes_of_one_episode_are_invisible_to_another(docker_client: Any, start: Any) -> None:
    first, second = start("episode-a"), start("episode-b")
    search = ("GET", f"Observation?patient={PATIENT['id']}&category=vital-signs&date=ge2023-11-13", None)
    on_first = fhir_requests(docker_client, first, [("POST", "Observation", BP_POST), search])
    on_second = fhir_requests(docker_client, second, [search])
    assert on_first[0][0] == 201 and ids(on_first[1][1]) == [on_first[0][1]["id"]]
    assert on_second[0][0] == 200 and ids(on_second[0][1]) == []
    assert [w["resource"]["id"] for w in first.writes()] == [on_first[0][1]["id"]]
    assert second.writes() == []
    first.load(fhir_data.dataset(patients=2))  # a reload restores pristine data and clears the writes
    assert first.writes() == []


def test_updates_and_deletes_are_recorded_and_searched_by_their_new_content(docker_client: Any, start: Any) -> None:
    server = start("episode-update")
    other = fhir_data.mrn(7)
    lab_id = labs(PATIENT["id"], "K")[0]["id"]
    moved = next(r for r in DATA if r["id"] == lab_id) | {"subject": {"reference": f"Patient/{other}"}}
    by_patient = [("GET", f"Observation?patient={mrn}&code=K&_count=5000", None) for mrn in (PATIENT["id"], other)]
    replies = fhir_requests(docker_client, server, [
        ("PUT", f"Observation/{lab_id}", moved), *by_patient,
        ("DELETE", f"Observation/{lab_id}", None), *by_patient, ("GET", f"Observation/{lab_id}", None)])
    assert [status for status, _, _ in replies] == [200, 200, 200, 200, 200, 200, 404]
    assert lab_id not in ids(replies[1][1]) and lab_id in ids(replies[2][1])  # found under its new patient
    assert lab_id not in ids(replies[4][1]) + ids(replies[5][1])
    writes = server.writes()
    assert [w["interaction"] for w in writes] == ["update", "delete"]
    assert writes[0]["resource"]["subject"] == moved["subject"]
    assert writes[1]["resource"] == {"resourceType": "Observation", "id": lab_id}


@pytest.fixture
def host_http_server() -> Iterator[int]:
    """A plain HTTP server on every IPv4 address of the host, which no sandbox must reach."""
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def host_ipv4_addresses() -> list[str]:
    output = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return [a for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", output) if not a.startswith("127.")]


def upstream_name() -> str | None:
    """A name the host resolves through its upstream resolver (its apt mirror's host), if any."""
    for path in [*Path("/etc/apt/sources.list.d").glob("*.sources"), Path("/etc/apt/sources.list")]:
        if path.is_file():
            for uri in re.findall(r"https?://[^\s/]+", path.read_text()):
                host = urlparse(uri).hostname
                try:
                    socket.getaddrinfo(host, 80)
                except OSError:
                    continue
                return host
    return None


def test_sandbox_reaches_its_fhir_server_and_nothing_else(docker_client: Any, start: Any,
                                                          host_http_server: int) -> None:
    mine, other = start("episode-net-a"), start("episode-net-b")
    other_ip = _container_ip(docker_client, other)
    host_ips = host_ipv4_addresses()
    assert host_ips, "the host has no IPv4 address besides loopback"
    for address in host_ips:  # the test server really listens on each host address
        socket.create_connection((address, host_http_server), timeout=2).close()
    control = run_sandbox(docker_client, None, PROBE, [[[a, host_http_server] for a in host_ips], []])
    assert set(control["connections"]) == {"connected"}  # a container on Docker's default bridge reaches them

    targets = [["fhir", 8080], [mine.network.gateway, host_http_server], [mine.network.gateway, 8080],
               [other_ip, 8080], [other.network.gateway, host_http_server],
               *([address, host_http_server] for address in host_ips)]
    names = ["fhir", *([name] if (name := upstream_name()) else [])]
    probe = run_sandbox(docker_client, mine.sandbox_network_kwargs(), PROBE, [targets, names])
    assert probe["connections"][0] == "connected"
    blocked = dict(zip((f"{host}:{port}" for host, port in targets[1:]), probe["connections"][1:], strict=True))
    assert all(result != "connected" for result in blocked.values()), blocked
    assert probe["lookups"][0] == [_container_ip(docker_client, mine)]  # `fhir` is this episode's server
    assert all(isinstance(found, str) for found in probe["lookups"][1:]), probe["lookups"]  # no DNS out
    _check_routes(probe["routes"], mine.network.gateway)
    assert probe["inet6"].strip() == ""  # no IPv6 at all, so no link-local path to the host


def _check_routes(routes: list[str], gateway: str) -> None:
    """Any destination off the subnet goes to the gateway address, which the host does not hold: so no
    packet leaves the bridge (internet addresses are not probed; this is why they cannot be reached)."""
    gateways = {socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little")) for fields in map(str.split, routes)}
    assert gateways <= {"0.0.0.0", gateway}, routes
    assert gateway not in host_ipv4_addresses()


def _container_ip(client: Any, server: FhirServer) -> str:
    networks = client.api.inspect_container(server.container_id)["NetworkSettings"]["Networks"]
    return str(networks[server.network.name]["IPAddress"])


def test_close_removes_container_and_network_even_with_a_sandbox_attached(docker_client: Any, start: Any) -> None:
    server = start("episode-close")
    api = docker_client.api
    kwargs = server.sandbox_network_kwargs()
    args = host_config_args(SandboxSpec(image=IMAGE, limits=Limits())) | kwargs["host_config"]
    sandbox = api.create_container(IMAGE, command=["sleep", "60"], user="1000:1000",
                                   labels={MANAGED: "1", OWNER: owner_label(), **TEST_LABEL},
                                   host_config=api.create_host_config(**args),
                                   networking_config=kwargs["networking_config"])
    try:
        api.start(sandbox["Id"])
        stdout = api.logs(server.container_id, stdout=True, stderr=False).decode().splitlines()
        assert [json.loads(line)["event"] for line in stdout] == ["ready", "loaded"]  # protocol lines only
        server.close()
        server.close()
        assert not api.containers(all=True, filters={"id": server.container_id})
        assert not api.networks(names=[server.network.name])
    finally:
        api.remove_container(sandbox["Id"], force=True)


def test_admin_channel_errors_and_exit(docker_client: Any, start: Any) -> None:
    server = start("episode-admin")
    assert server.ping()
    with pytest.raises(SandboxError, match="unknown op"):
        server.request({"op": "drop-tables"})
    with pytest.raises(SandboxError, match="load failed"):
        server.request({"op": "load", "resources": "not a list"})
    assert server.request({"op": "ping"})["loaded"] is False  # a failed load leaves the server closed
    assert server.load({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": PATIENT}]})["count"] == 1
    assert server.request({"op": "exit"})["event"] == "bye"
    deadline = time.monotonic() + 15
    while docker_client.api.containers(all=True, filters={"id": server.container_id}):
        assert time.monotonic() < deadline, "the FHIR container did not go away after exit"
        time.sleep(0.3)


def test_a_killed_server_raises_a_lost_error(docker_client: Any, start: Any) -> None:
    server = start("episode-killed")
    docker_client.api.kill(server.container_id)
    with pytest.raises(SandboxLostError, match="FHIR server"):
        server.writes()
    with pytest.raises(SandboxLostError):
        server.ping()
    server.close()
    assert not docker_client.api.networks(names=[server.network.name])


CRASHING_OWNER = """
import sys, time, docker
from sandbox.fhir import FhirConfig, start_fhir_server
config = FhirConfig(image=sys.argv[1], labels={"medgym.test": "fhir"})
server = start_fhir_server(docker.from_env(), "episode-crash", config)
print(server.container_id, server.network.name, flush=True)
time.sleep(300)
"""


def test_a_crashed_medgym_leaves_nothing(docker_client: Any, fhir_image: str) -> None:
    """The FHIR server exits at end of file on its input; its owner's janitor removes the network
    (and would remove a container the crash caught between create and start)."""
    owner = subprocess.Popen([sys.executable, "-c", CRASHING_OWNER, fhir_image], stdout=subprocess.PIPE, text=True)
    try:
        container_id, network = (owner.stdout.readline() if owner.stdout else "").split()
    finally:
        owner.kill()  # SIGKILL: no cleanup code runs
        owner.wait()
    deadline = time.monotonic() + 30
    while (docker_client.api.containers(all=True, filters={"id": container_id})
           or docker_client.api.networks(names=[network])):
        assert time.monotonic() < deadline, "the FHIR server or its network outlived its owner"
        time.sleep(0.5)


def test_orphaned_networks_are_reaped(docker_client: Any, fhir_image: str) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = {OWNER: f"{owner_label().split(':')[0]}:{dead.pid}:1", **TEST_LABEL}
    network = create_episode_network(docker_client, "episode-orphan", FhirConfig(labels=orphan))
    alive = create_episode_network(docker_client, "episode-alive", FhirConfig(labels=TEST_LABEL))
    try:
        assert reap_orphan_networks(docker_client) >= 1
        assert not docker_client.api.networks(names=[network.name])
        assert docker_client.api.networks(names=[alive.name])
    finally:
        for name in (network.name, alive.name):
            if docker_client.api.networks(names=[name]):
                docker_client.api.remove_network(name)


def test_start_and_load_times(docker_client: Any, fhir_image: str, seed_file: Path,
                              record_property: Any) -> None:
    """About 100 patients with 3,000 Observations: start, load inline, load from the mounted seed."""
    started = time.monotonic()
    server = start_fhir_server(docker_client, "episode-timing", FhirConfig(image=fhir_image, labels=TEST_LABEL))
    try:
        start_ms = (time.monotonic() - started) * 1000
        data = fhir_data.dataset()
        assert sum(r["resourceType"] == "Observation" for r in data) == 3000
        began = time.monotonic()
        inline = server.load(data)
        inline_ms = (time.monotonic() - began) * 1000
        figures = {"start_ms": round(start_ms), "index_ms": server.info["index_ms"],
                   "load_inline_ms": round(inline_ms), "load_inline_server_ms": inline["ms"]}
    finally:
        server.close()
    seeded = start_fhir_server(docker_client, "episode-timing-seed", FhirConfig(image=fhir_image, labels=TEST_LABEL),
                               seed=seed_file)
    seeded.close()
    figures |= {"start_and_seed_ms": round(seeded.info["start_ms"] + seeded.info["load"]["ms"]),
                "load_seed_server_ms": seeded.info["load"]["ms"]}
    for key, value in figures.items():
        record_property(key, value)
    print("FHIR timings:", figures)
    assert inline["count"] == len(data) and figures["start_ms"] < 60_000 and figures["load_inline_ms"] < 60_000
