"""Build and check the FHIR server image (`sandbox_images/fhir/`), like `sandbox.image` for the sandbox.

There is one build, offline: `sandbox_images/fhir/build_offline.sh` (debootstrap of Debian trixie
with its nodejs, npm packages pinned by package-lock.json, `docker import`). The image carries a
`medgym.definition` label, a hash of the definition files, so a stale image is noticed.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from importlib import resources
from pathlib import Path

from sandbox.contract import ImageStatus
from sandbox.image import ImageBuildError

log = logging.getLogger(__name__)

FHIR_IMAGE = "medgym-fhir:0.1.0"
DEFINITION_FILES = ("package.json", "package-lock.json", "server.mjs", "build_offline.sh")


def fhir_definition_dir() -> Path:
    return Path(str(resources.files("sandbox_images"))) / "fhir"


def fhir_definition_hash() -> str:
    digest = hashlib.sha256()
    for name in DEFINITION_FILES:
        digest.update(name.encode())
        digest.update((fhir_definition_dir() / name).read_bytes())
    return digest.hexdigest()[:16]


def fhir_image_status(client: object, image: str = FHIR_IMAGE) -> ImageStatus:
    """Whether `image` exists and was built from the current definition files."""
    try:
        info = client.api.inspect_image(image)  # type: ignore[attr-defined]
    except Exception:
        return ImageStatus(image=image, present=False, current=False)
    labels = (info.get("Config") or {}).get("Labels") or {}
    return ImageStatus(
        image=image, present=True, current=labels.get("medgym.definition") == fhir_definition_hash(),
        image_id=info.get("Id"), build=labels.get("medgym.build"),
    )


def build_fhir_image(client: object, image: str = FHIR_IMAGE, force: bool = False) -> bool:
    """Build the image unless it is current (or `force`); True when it was built. Raises `ImageBuildError`."""
    before = fhir_image_status(client, image)
    if before.current and not force:
        return False
    script = fhir_definition_dir() / "build_offline.sh"
    log.info("building %s (offline: debootstrap + npm ci + docker import)", image)
    try:
        completed = subprocess.run(["bash", str(script), image, fhir_definition_hash()], stdout=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise ImageBuildError(f"FHIR image build: {exc.filename} is not installed") from None
    if completed.returncode != 0:
        raise ImageBuildError(f"FHIR image build failed (exit {completed.returncode}); see the messages above")
    _remove_replaced(client, before)
    return True


def _remove_replaced(client: object, before: ImageStatus) -> None:
    """Remove the image the rebuild untagged (223 MB each), unless a container still uses it."""
    if before.image_id and before.image_id != fhir_image_status(client, before.image).image_id:
        try:
            client.api.remove_image(before.image_id)  # type: ignore[attr-defined]
        except Exception as exc:
            log.debug("keeping the replaced FHIR image %s: %s", before.image_id[:19], exc)
