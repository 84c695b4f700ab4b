"""Build the built-in open task pack into the medgym home, once, and reuse it.

The pack is laid out exactly like a MedAgentGym data directory, so it is indexed, mounted and
served by the same code as a user's data:

    <home>/pack/v<PACK_VERSION>-<hash of the seed and the generator code>/
        manifest.json
        medgym_ehr/   PATIENTS.csv ... mimic_iii.sqlite, train_tasks.jsonl, test_tasks.jsonl
        medgym_calc/  train_tasks.jsonl, test_tasks.jsonl
        medgym_power/ train_tasks.jsonl, test_tasks.jsonl
        medgym_predict/ FEATURES.md, admissions/ and icustays/ (features, training labels), task files
        medgym_fhir/  fhir/ehr.json (FHIR resources, served by each episode's FHIR server), task files
        medgym_bio/   cohorts/<cohort>/*.csv, train_tasks.jsonl, test_tasks.jsonl

Task files hold `IndexedTask` records (with answer keys and reference solutions); like every
task file they are never mounted into a sandbox. The same seed always gives the same bytes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medgym.private import private_dir
from task_store.models import IndexedTask
from task_store.pack.seed import PUBLIC_SEED

log = logging.getLogger(__name__)

PACK_VERSION = 1
DEFAULT_SEED = PUBLIC_SEED
EHR, CALC, POWER, PREDICT, FHIR, BIO = "medgym_ehr", "medgym_calc", "medgym_power", "medgym_predict", "medgym_fhir", \
    "medgym_bio"
PACK_DATASETS = (EHR, CALC, POWER, PREDICT, FHIR, BIO)
QUARANTINE = "quarantined_tasks.jsonl"


def hash_split(task_id: str) -> str:
    """A pack task's split: about 70% train, 30% test, decided by a hash of its id."""
    return "train" if int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) % 10 < 7 else "test"


def generator_hash() -> str:
    """Changes whenever the pack's generator code changes, so a stale cached pack is never served."""
    digest = hashlib.sha256(str(PACK_VERSION).encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def pack_dir(home: Path, seed: int = DEFAULT_SEED) -> Path:
    """The pack's folder; its name reveals neither the seed nor anything that leads to it."""
    digest = hashlib.sha256(f"{seed}:{generator_hash()}".encode()).hexdigest()[:16]
    return home / "pack" / f"v{PACK_VERSION}-{digest}"


def ensure_pack(home: Path, seed: int = DEFAULT_SEED) -> Path:
    """The pack directory, built on first use (concurrent servers wait for one build)."""
    target = pack_dir(home, seed)
    if (target / "manifest.json").is_file():
        return target
    private_dir(target.parent)
    with _locked(target.parent / ".build.lock"):
        if (target / "manifest.json").is_file():
            return target
        started = time.monotonic()
        log.info("building the built-in task pack (seed %d) in %s ...", seed, target)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            counts = build_into(staging, seed)
            _write_manifest(staging, seed, counts)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("built the task pack in %.1f s: %s", time.monotonic() - started, counts)
    return target


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_into(root: Path, seed: int) -> dict[str, dict[str, int]]:
    """Generate every pack dataset under `root`; returns task counts per dataset and split."""
    from task_store.pack.bio_tasks import build_bio_tasks
    from task_store.pack.calc_tasks import build_calc_tasks
    from task_store.pack.ehr_db import build_ehr_database
    from task_store.pack.ehr_questions import build_ehr_tasks
    from task_store.pack.fhir_tasks import build_fhir_pack
    from task_store.pack.power_tasks import build_power_tasks
    from task_store.pack.predict_tasks import build_predict_tasks

    (root / EHR).mkdir(parents=True)
    build_ehr_database(seed, root / EHR)
    counts = {EHR: write_tasks(root / EHR, build_ehr_tasks(seed, root / EHR / "mimic_iii.sqlite"))}
    counts[CALC] = write_tasks(root / CALC, build_calc_tasks(seed))
    counts[POWER] = write_tasks(root / POWER, build_power_tasks(seed))
    counts[PREDICT] = write_tasks(root / PREDICT, build_predict_tasks(seed, root / EHR, root / PREDICT))
    counts[FHIR] = write_tasks(root / FHIR, build_fhir_pack(seed, root / EHR / "mimic_iii.sqlite", root / FHIR))
    counts[BIO] = write_tasks(root / BIO, build_bio_tasks(seed, root / BIO))
    return counts


def write_tasks(directory: Path, tasks: list[IndexedTask]) -> dict[str, int]:
    """Write `<split>_tasks.jsonl` files, one `IndexedTask` per line, in a stable order."""
    directory.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[IndexedTask]] = {}
    for item in tasks:
        by_split.setdefault(item.task.split, []).append(item)
    for split, items in sorted(by_split.items()):
        items.sort(key=lambda i: i.task.task_id)
        lines = [i.model_dump_json() for i in items]
        (directory / f"{split}_tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {split: len(items) for split, items in sorted(by_split.items())}


def _write_manifest(root: Path, seed: int, counts: dict[str, dict[str, int]]) -> None:
    manifest = {"pack_version": PACK_VERSION, "generator": generator_hash(), "tasks": counts}  # never the seed
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def quarantine(root: Path, failed: set[str]) -> int:
    """Stop serving tasks that failed certification: move them out of the split files."""
    moved = 0
    for dataset in PACK_DATASETS:
        for path in sorted((root / dataset).glob("*_tasks.jsonl")):
            if path.name == QUARANTINE:
                continue
            keep: list[str] = []
            drop: list[str] = []
            for line in path.read_text(encoding="utf-8").splitlines():
                task_id = json.loads(line)["task"]["task_id"]
                (drop if task_id in failed else keep).append(line)
            if drop:
                with (root / dataset / QUARANTINE).open("a", encoding="utf-8") as handle:
                    handle.write("\n".join(drop) + "\n")
                path.write_text("\n".join(keep) + ("\n" if keep else ""), encoding="utf-8")
                moved += len(drop)
    return moved
