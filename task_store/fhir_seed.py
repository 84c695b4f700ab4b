"""Where a FHIR dataset keeps its EHR, and how it is read.

A FHIR dataset's directory holds its EHR under `fhir/`: JSON files (a list of resources, or a
Bundle of any type) and NDJSON files (one resource a line, as a FHIR bulk `$export` writes them,
e.g. `Patient.ndjson`, `Observation.ndjson`). This folder is never mounted into an agent's sandbox:
it is loaded into the episode's FHIR server, and the grader reads the same files, pristine.

The FHIR server loads one JSON file, so several files (or NDJSON) are joined once into a JSON list
under a cache folder, named by a hash of their names, sizes and modification times.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SEED_FOLDER = "fhir"
SUFFIXES = (".json", ".ndjson")


def seed_sources(directory: Path) -> list[Path]:
    """The EHR files of a FHIR dataset directory, in name order (empty when there are none)."""
    folder = directory / SEED_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def signature(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        stat = path.stat()
        digest.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def read_resources(sources: list[Path]) -> Iterator[dict[str, Any]]:
    """Every resource in the files: JSON lists and Bundles' entries, NDJSON lines."""
    for path in sources:
        if path.suffix.lower() == ".ndjson":
            with path.open(encoding="utf-8") as handle:
                yield from (json.loads(line) for line in handle if line.strip())
        else:
            yield from _resources_of(json.loads(path.read_text(encoding="utf-8")), path)


def _resources_of(data: object, path: Path) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        entries = [e for e in data.get("entry") or [] if isinstance(e, dict)]
        return [e["resource"] for e in entries if isinstance(e.get("resource"), dict)]
    if isinstance(data, dict) and "resourceType" in data:
        return [data]
    raise ValueError(f"{path}: expected a list of FHIR resources, a Bundle or one resource")


def seed_file(directory: Path, cache: Path) -> Path | None:
    """One JSON file the FHIR server can load: the only JSON file there is, or the files joined into a
    list under `cache` (written once). None when the dataset has no EHR files."""
    sources = seed_sources(directory)
    if not sources:
        return None
    if len(sources) == 1 and sources[0].suffix.lower() == ".json":
        return sources[0].resolve()
    target = cache / f"fhir-seed-{signature(sources)}.json"
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("w", encoding="utf-8") as handle:
            handle.write("[")
            for k, resource in enumerate(read_resources(sources)):
                handle.write(("," if k else "") + json.dumps(resource, separators=(",", ":")))
            handle.write("]")
        partial.replace(target)
    return target
