"""The example Kubernetes manifests (deploy/kubernetes/) and docs/SCALING.md, checked statically.

No cluster is involved (none can run here): every YAML document parses and names itself; every
`MEDGYM_*` variable they set, or the scaling guide names, is a real setting (the names
`Settings.from_env` reads, as `variables_table` lists them) and the manifests' values pass its
validation; the sandbox Pod template keeps the Docker backend's hardening; a deny-all
NetworkPolicy covers the sandbox Pods.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_server.settings import ENV_PREFIX, Settings, variables_table
from sandbox.contract import WORKSPACE
from sandbox.docker_backend import ENVIRONMENT, SANDBOX_USER
from sandbox.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "deploy" / "kubernetes"
SCALING = ROOT / "docs" / "SCALING.md"
VARIABLE = re.compile(r"\b" + ENV_PREFIX + r"[A-Z][A-Z0-9_]*[A-Z0-9]")
Doc = dict[str, Any]


def _documents() -> list[tuple[str, Doc]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                found.append((path.name, doc))
    return found


DOCS = _documents()


def _one(kind: str, name: str) -> Doc:
    matches = [d for _, d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def _settings_names() -> set[str]:
    return {name for name, _, _ in variables_table()}


def _containers(pod_spec: Doc) -> list[Doc]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def _env_names(doc: Doc) -> set[str]:
    """Every environment variable name a document sets: ConfigMap and Secret keys, container env."""
    if doc["kind"] in ("ConfigMap", "Secret"):
        return {k for k in (*doc.get("data", {}), *doc.get("stringData", {})) if k.startswith(ENV_PREFIX)}
    spec = doc.get("spec", {}).get("template", {}).get("spec") or doc.get("template", {}).get("spec")
    if not spec:
        return set()
    return {e["name"] for c in _containers(spec) for e in c.get("env", []) if e["name"].startswith(ENV_PREFIX)}


def _server_env() -> dict[str, str]:
    """The literal MEDGYM_* environment of the server container (ConfigMap and plain values)."""
    env = {k: str(v) for k, v in _one("ConfigMap", "medgym-env")["data"].items()}
    container = _one("Deployment", "medgym-server")["spec"]["template"]["spec"]["containers"][0]
    env.update({e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e})
    return env


def _sandbox_spec() -> Doc:
    spec: Doc = _one("PodTemplate", "medgym-sandbox")["template"]["spec"]
    return spec


def test_every_document_names_itself() -> None:
    assert len(DOCS) >= 10
    for path, doc in DOCS:
        assert doc.get("apiVersion") and doc.get("kind"), path
        assert doc.get("metadata", {}).get("name"), (path, doc["kind"])


def test_every_medgym_variable_in_the_manifests_is_a_setting() -> None:
    known = _settings_names()
    used = set().union(*(_env_names(doc) for _, doc in DOCS))
    assert {"MEDGYM_MAX_SANDBOXES", "MEDGYM_PACK_SEED", "MEDGYM_TOKEN_FILE"} <= used
    assert used <= known, f"not settings: {sorted(used - known)}"


def test_the_table_is_what_from_env_reads() -> None:
    """`variables_table` lists exactly the names `Settings.from_env` maps to fields."""
    fields = [n for n in Settings.model_fields if n != "limits"] + list(Limits.model_fields)
    assert _settings_names() == {ENV_PREFIX + n.upper() for n in fields}
    read = Settings.from_env(environ={"MEDGYM_MAX_SANDBOXES": "7", "MEDGYM_TMP_MB": "99"})
    assert read.max_sandboxes == 7 and read.limits.tmp_mb == 99


def test_the_server_environment_is_valid() -> None:
    settings = Settings.from_env(environ=_server_env())
    assert settings.transport == "http" and settings.host == "0.0.0.0"
    assert settings.token_file is not None and settings.backend == "docker"  # no Kubernetes backend exists


def test_the_scaling_guide_names_only_real_settings() -> None:
    named = set(VARIABLE.findall(SCALING.read_text(encoding="utf-8")))
    assert {"MEDGYM_MAX_SANDBOXES", "MEDGYM_BACKEND", "MEDGYM_RAY_ADDRESS"} <= named
    assert named <= _settings_names(), f"not settings: {sorted(named - _settings_names())}"


def test_the_sandbox_pod_is_locked_down() -> None:
    spec = _sandbox_spec()
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"))
    assert spec["runtimeClassName"] == _one("RuntimeClass", "gvisor")["metadata"]["name"]
    assert spec["restartPolicy"] == "Never" and spec["enableServiceLinks"] is False
    assert not any("hostPath" in volume for volume in spec["volumes"])
    for container in _containers(spec):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"] and "add" not in context["capabilities"]
        assert context.get("privileged", False) is False
        assert container["stdin"] is True and container["stdinOnce"] is True and not container.get("tty")


def test_the_sandbox_pod_runs_like_a_docker_sandbox() -> None:
    container = _sandbox_spec()["containers"][0]
    assert {e["name"]: e["value"] for e in container["env"]} == ENVIRONMENT
    assert container["workingDir"] == WORKSPACE and container["command"] == ["python3", "-u", "-c"]
    user = f"{_sandbox_spec()['securityContext']['runAsUser']}:{_sandbox_spec()['securityContext']['runAsGroup']}"
    assert user == SANDBOX_USER


def test_the_sandbox_pod_has_the_limits_of_the_servers_settings() -> None:
    limits = Settings.from_env(environ=_server_env()).limits
    spec = _sandbox_spec()
    resources = spec["containers"][0]["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == f"{limits.memory_mb}Mi"
    assert float(resources["limits"]["cpu"]) == limits.cpus
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    for path, size in (("/workspace", limits.workspace_mb), ("/tmp", limits.tmp_mb)):
        assert volumes[mounts[path]]["emptyDir"] == {"medium": "Memory", "sizeLimit": f"{size}Mi"}
    data = [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
    assert all(v["persistentVolumeClaim"]["readOnly"] is True for v in data)


def test_the_sandbox_data_is_never_the_servers_data_directory() -> None:
    claims = {v["persistentVolumeClaim"]["claimName"] for v in _sandbox_spec()["volumes"]
              if "persistentVolumeClaim" in v}
    server = _one("Deployment", "medgym-server")["spec"]["template"]["spec"]
    server_claims = {v["persistentVolumeClaim"]["claimName"] for v in server["volumes"] if "persistentVolumeClaim" in v}
    assert claims and not claims & server_claims


def _selects(policy: Doc, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if selector.get("matchExpressions"):
        return False  # not needed here: keep the check simple and strict
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def test_a_deny_all_network_policy_selects_the_sandbox_pods() -> None:
    template = _one("PodTemplate", "medgym-sandbox")
    namespace, labels = template["metadata"]["namespace"], template["template"]["metadata"]["labels"]
    deny_all = [d for _, d in DOCS if d["kind"] == "NetworkPolicy" and d["metadata"].get("namespace") == namespace
                and set(d["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
                and not d["spec"].get("ingress") and not d["spec"].get("egress") and _selects(d, labels)]
    assert deny_all


def test_the_server_may_manage_pods_in_the_sandbox_namespace_only() -> None:
    sandboxes = _one("PodTemplate", "medgym-sandbox")["metadata"]["namespace"]
    account = _one("Deployment", "medgym-server")["spec"]["template"]["spec"]["serviceAccountName"]
    bindings = [d for _, d in DOCS if d["kind"] in ("RoleBinding", "ClusterRoleBinding")
                and any(s["kind"] == "ServiceAccount" and s["name"] == account for s in d["subjects"])]
    assert bindings and all(b["kind"] == "RoleBinding" and b["roleRef"]["kind"] == "Role" for b in bindings)
    assert {b["metadata"]["namespace"] for b in bindings} == {sandboxes}
    role = _one("Role", bindings[0]["roleRef"]["name"])
    verbs = {r: set(rule["verbs"]) for rule in role["rules"] for r in rule["resources"]}
    assert {"create", "delete"} <= verbs["pods"] and "create" in verbs["pods/attach"]
    assert "*" not in set().union(*verbs.values()) and "pods/exec" not in verbs and "secrets" not in verbs
    assert _one("ServiceAccount", "medgym-sandbox")["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", ["medgym", "medgym-sandboxes"])
def test_namespaces_enforce_the_restricted_pod_security_profile(name: str) -> None:
    labels = _one("Namespace", name)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
