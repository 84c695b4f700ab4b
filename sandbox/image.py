"""Build and check the sandbox image.

Two builds from one definition: `docker build` of `sandbox_images/Dockerfile` where the base
image can be pulled, and `sandbox_images/build_offline.sh` (debootstrap + docker import) where no
registry is reachable. The image carries a `medgym.definition` label (a hash of the definition
files) so a stale image is noticed and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from medgym.errors import ConfigurationError
from sandbox.contract import ImageStatus

log = logging.getLogger(__name__)

BASE_IMAGE = "python:3.11-slim"
DEFINITION_FILES = ("Dockerfile", "requirements-sandbox.txt", "build_offline.sh", "debian-packages.txt")
Method = Literal["auto", "dockerfile", "offline"]


class ImageBuildError(ConfigurationError):
    """The image could not be built; the message says what to do."""


def definition_dir() -> Path:
    return Path(str(resources.files("sandbox_images")))


def definition_hash() -> str:
    digest = hashlib.sha256()
    for name in DEFINITION_FILES:
        digest.update(name.encode())
        digest.update((definition_dir() / name).read_bytes())
    return digest.hexdigest()[:16]


def image_status(client: Any, image: str) -> ImageStatus:
    """Whether `image` exists on the engine of a docker `client` and was built from the current definition."""
    try:
        info = client.api.inspect_image(image)
    except Exception:
        return ImageStatus(image=image, present=False, current=False)
    labels = (info.get("Config") or {}).get("Labels") or {}
    return ImageStatus(
        image=image, present=True, current=labels.get("medgym.definition") == definition_hash(),
        image_id=info.get("Id"), build=labels.get("medgym.build"),
    )


def build(image: str, method: Method = "auto") -> str:
    """Build the image; returns the method used. Raises `ImageBuildError`."""
    if method == "auto":
        method = "dockerfile" if _base_available() else "offline"
        log.info("building %s with the %s method", image, method)
    if method == "dockerfile":
        _run(["docker", "build", "--build-arg", f"MEDGYM_DEFINITION={definition_hash()}", "-t", image,
              str(definition_dir())], "docker build")
    else:
        _run(["bash", str(definition_dir() / "build_offline.sh"), image, definition_hash()], "offline build")
    return method


def _base_available() -> bool:
    """True when the Dockerfile's base image is present or can be pulled right now."""
    have = subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True)
    if have.returncode == 0:
        return True
    try:
        pulled = subprocess.run(["docker", "pull", BASE_IMAGE], capture_output=True, timeout=180)
    except subprocess.TimeoutExpired:
        return False
    return pulled.returncode == 0


def _run(command: list[str], what: str) -> None:
    log.info("running: %s", " ".join(command[:3]) + " ...")
    try:
        completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=None)
    except FileNotFoundError as exc:
        raise ImageBuildError(f"{what}: {exc.filename} is not installed") from None
    if completed.returncode != 0:
        raise ImageBuildError(f"{what} failed (exit {completed.returncode}); see the messages above")
