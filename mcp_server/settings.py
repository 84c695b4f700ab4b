"""The one place that reads the environment: `MEDGYM_*` variables become a validated `Settings`.

CLI flags override the variables (`Settings.from_env(overrides)`); every other module receives
the resulting object and never looks at `os.environ` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from medgym.errors import ConfigurationError
from medgym.version import __version__
from sandbox.config import BackendConfig, DockerBackendConfig, RayBackendConfig
from sandbox.limits import Limits
from task_store.store import DataRoot

ENV_PREFIX = "MEDGYM_"


class Settings(BaseModel):
    """Validated configuration of one medgym process."""

    model_config = ConfigDict(frozen=True)

    home: Path = Field(
        default_factory=lambda: Path.home() / ".medgym",
        description="medgym's own files: the SQLite store (task index, episodes)",
    )
    data_dir: Path | None = Field(None, description="a MedAgentGym data directory (<dataset>/<split file>)")
    pack: bool = Field(True, description="serve the built-in open task pack (built on first use)")
    pack_seed: str = Field("secret", description="seed of the built-in pack: 'secret' (random per home, kept in "
                                                 "<home>/pack-seed), 'public' (the published seed: reproducible, "
                                                 "never for benchmarking) or an integer")
    image: str = Field(f"medgym-sandbox:{__version__}", description="sandbox image")
    docker_host: str | None = Field(None, description="Docker engine address (default: DOCKER_HOST or the socket)")
    runner_channel: Literal["auto", "attach"] = Field(
        "auto", description="how the server talks to a sandbox's runner: 'auto', a unix socket when the Docker "
                            "engine is on this machine (else the attach stream), or always 'attach'")
    backend: Literal["docker", "ray"] = Field("docker", description="where sandboxes run: the Docker engine, or the "
                                                                     "Docker nodes of a Ray cluster (docs/SCALING.md)")
    ray_address: str = Field("auto", description="the Ray cluster's address (backend ray; 'auto': this machine's)")
    ray_namespace: str = Field("medgym", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                               description="the Ray namespace of the server's node agents (backend ray)")
    ray_resource: str = Field("medgym_sandbox", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                              description="the custom Ray resource of which each sandbox takes one unit (backend "
                                          "ray; nodes offer it with `ray start --resources`)")
    ray_placement_timeout_s: float = Field(30.0, gt=0, le=3600, description="how long a sandbox start waits for a "
                                                                            "free slot on the Ray cluster")
    pool_size: int = Field(2, ge=0, le=32, description="warm sandboxes kept ready per kind (0: no pool)")
    pool_max: int = Field(8, ge=0, le=256, description="how far a kind's warm pool may grow while episodes start "
                                                        "faster than it refills (it shrinks back when idle)")
    max_attempts: int = Field(1, ge=1, le=100, description="submissions per episode (1 = benchmark mode)")
    catalog_wait_s: float | None = Field(None, gt=0, description="how long a tool call waits for the task catalog "
                                                                 "to load before answering 'still indexing' "
                                                                 "(default 20)")
    labels: Literal["official", "audited"] = Field(
        "official", description="which answer keys score MedCalcBench and N-PowerAI tasks: the published ones, "
                                "or those corrected by the label audit (`medgym tasks audit`)")
    episodes_per_task: int | None = Field(None, ge=1, description="episodes one client may have of one task "
                                                                  "(default: unlimited)")
    episode_idle_timeout_s: float = Field(1800.0, gt=0, description="an idle episode is ended after this")
    transport: Literal["stdio", "http"] = Field("stdio", description="MCP transport of `medgym serve`")
    host: str = Field("127.0.0.1", description="HTTP bind address")
    port: int = Field(8765, ge=0, le=65535, description="HTTP port")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="stderr log level")
    token: SecretStr | None = Field(None, description="bearer token HTTP clients must send (required off loopback)")
    token_file: Path | None = Field(None, description="file of bearer tokens, one per line: 'token' or 'name token'")
    allowed_hosts: str = Field("", description="extra Host header values accepted over HTTP, comma-separated")
    max_request_bytes: int = Field(2 * 1024 * 1024, ge=65536, description="largest HTTP request body accepted")
    max_episodes_per_client: int = Field(
        32, ge=1, description="sandboxes one HTTP client may run at once (its open episodes: 50 times that)")
    max_sandboxes: int = Field(64, ge=1, description="sandboxes this server runs at once, over all clients; "
                                                     "more episode starts wait in a fair queue")
    start_wait_s: float = Field(120.0, gt=0, description="how long an episode start waits for a free sandbox "
                                                         "before it is refused")
    max_starts: int = Field(4, ge=1, description="sandboxes that may start at once (ramping up from one while "
                                                 "starts are fast)")
    max_sessions_per_client: int = Field(64, ge=1, description="open HTTP MCP sessions per token or address")
    max_connections: int = Field(1000, ge=8, description="open HTTP connections (a request head must arrive "
                                                           "within 10 s)")
    limits: Limits = Field(default_factory=Limits)

    @field_validator("data_dir", "home", "token_file", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        return Path(str(value)).expanduser()

    @property
    def db_path(self) -> Path:
        return self.home / "medgym.sqlite"

    def backend_config(self) -> BackendConfig:
        """The typed configuration of the sandbox backend (built by `.build(instance_id)`)."""
        if self.backend == "ray":
            return RayBackendConfig(address=self.ray_address, namespace=self.ray_namespace, resource=self.ray_resource,
                                    pool_size=self.pool_size, pool_max=self.pool_size and self.pool_max,
                                    placement_timeout_s=self.ray_placement_timeout_s)
        return DockerBackendConfig(docker_host=self.docker_host, runner_channel=self.runner_channel)

    @field_validator("pack_seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> str:
        from task_store.pack.seed import parse_choice

        return parse_choice(str(value))

    def seed(self) -> tuple[int, str]:
        """The pack's seed (made and kept in the home on first use when secret) and its kind."""
        from task_store.pack.seed import resolve

        return resolve(self.home, self.pack_seed)

    def pack_path(self) -> Path:
        from task_store.pack.build import pack_dir

        return pack_dir(self.home, self.seed()[0])

    def roots(self) -> list[DataRoot]:
        """The data roots served: the built-in pack (built on first use) and the data directory."""
        from task_store.roots import configured_roots

        return configured_roots(self.home, self.pack, self.seed()[0] if self.pack else 0, self.data_dir)

    @classmethod
    def from_env(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from `MEDGYM_*` variables, then apply non-None `overrides` (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        limits: dict[str, Any] = {}
        for name in cls.model_fields:
            if name != "limits" and (raw := env.get(ENV_PREFIX + name.upper())) not in (None, ""):
                values[name] = raw
        for name in Limits.model_fields:
            if (raw := env.get(ENV_PREFIX + name.upper())) not in (None, ""):
                limits[name] = raw
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            if key in Limits.model_fields:
                limits[key] = value
            else:
                values[key] = value
        if values.get("home") is None:
            values.pop("home", None)
        try:
            return cls(**values, limits=Limits(**limits))
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None


class SettingsError(ConfigurationError):
    """The configuration is invalid; the message names the variable to fix."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ENV_PREFIX + str(err["loc"][-1]).upper() if err["loc"] else "settings"
        parts.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
    return "invalid configuration: " + "; ".join(parts)


def variables_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) rows, for `medgym doctor` and the README."""
    rows: list[tuple[str, str, str]] = []
    defaults = Settings()
    for name, field in Settings.model_fields.items():
        if name == "limits":
            continue
        rows.append((ENV_PREFIX + name.upper(), str(getattr(defaults, name)), field.description or ""))
    for name, field in Limits.model_fields.items():
        rows.append((ENV_PREFIX + name.upper(), str(field.default), field.description or ""))
    return rows
