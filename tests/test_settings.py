"""Settings precedence: defaults < MEDGYM_* environment < CLI overrides; clear errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.settings import Settings, SettingsError
from medgym.errors import ConfigurationError
from sandbox.config import DockerBackendConfig
from sandbox.limits import Limits

pytestmark = pytest.mark.timeout(30)


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({}, {})
    assert settings == Settings()
    assert settings.pool_size == 2 and settings.transport == "stdio" and settings.limits == Limits()
    assert settings.home == Path.home() / ".medgym"


def test_environment_over_defaults_and_overrides_over_environment() -> None:
    environ = {"MEDGYM_POOL_SIZE": "5", "MEDGYM_TRANSPORT": "http", "MEDGYM_PACK": "0", "MEDGYM_MEMORY_MB": "1024",
               "MEDGYM_MAX_OUTPUT_BYTES": "4096", "MEDGYM_HOME": "~/medgym-test-home"}
    from_env = Settings.from_env({}, environ)
    assert (from_env.pool_size, from_env.transport, from_env.pack) == (5, "http", False)
    assert from_env.limits.memory_mb == 1024 and from_env.limits.max_output_bytes == 4096
    assert from_env.limits.cpus == Limits().cpus  # limits not set keep their defaults
    assert from_env.home == Path.home() / "medgym-test-home"
    overridden = Settings.from_env({"pool_size": 7, "memory_mb": 4096, "transport": None, "port": 9000}, environ)
    assert (overridden.pool_size, overridden.limits.memory_mb, overridden.port) == (7, 4096, 9000)
    assert overridden.transport == "http" and overridden.limits.max_output_bytes == 4096  # None: not given


def test_empty_values_and_other_variables_are_ignored() -> None:
    environ = {"MEDGYM_POOL_SIZE": "", "MEDGYM_MEMORY_MB": "", "MEDGYM_HOME": "", "MEDGYM_DATA_DIR": "",
               "MEDGYM_NOT_A_SETTING": "1", "POOL_SIZE": "9", "MEDGYM_LIMITS": "{}"}
    assert Settings.from_env({}, environ) == Settings()


def test_the_process_environment_is_read_only_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDGYM_MAX_ATTEMPTS", "3")
    assert Settings.from_env().max_attempts == 3
    assert Settings.from_env({}, {}).max_attempts == 1


@pytest.mark.parametrize(("environ", "overrides", "named"), [
    ({"MEDGYM_POOL_SIZE": "lots"}, {}, "MEDGYM_POOL_SIZE"),
    ({"MEDGYM_POOL_SIZE": "33"}, {}, "MEDGYM_POOL_SIZE"),
    ({"MEDGYM_TRANSPORT": "carrier-pigeon"}, {}, "MEDGYM_TRANSPORT"),
    ({"MEDGYM_MEMORY_MB": "12"}, {}, "MEDGYM_MEMORY_MB"),
    ({"MEDGYM_CPUS": "many"}, {}, "MEDGYM_CPUS"),
    ({}, {"port": 70000}, "MEDGYM_PORT"),
    ({}, {"max_timeout_s": -1}, "MEDGYM_MAX_TIMEOUT_S"),
])
def test_invalid_values_name_the_variable(environ: dict[str, str], overrides: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(overrides, environ)
    assert named in str(caught.value) and str(caught.value).startswith("invalid configuration")
    assert isinstance(caught.value, ConfigurationError) and "errors.pydantic.dev" not in str(caught.value)


def test_the_backend_configuration_comes_from_the_settings() -> None:
    settings = Settings.from_env({}, {"MEDGYM_DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert settings.backend_config() == DockerBackendConfig(docker_host="tcp://127.0.0.1:1")
    assert Settings.from_env({}, {}).backend_config().docker_host is None


def test_the_token_is_never_shown() -> None:
    settings = Settings.from_env({}, {"MEDGYM_TOKEN": "s3cret-token-value"})
    assert settings.token is not None and settings.token.get_secret_value() == "s3cret-token-value"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
