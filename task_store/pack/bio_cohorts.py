"""Synthetic cBioPortal-shaped cohorts for the `medgym_bio` analysis tasks.

Each cohort is three CSV tables written under `medgym_bio/cohorts/<cohort>/` (mounted read-only at
`/data/medgym_bio/cohorts/<cohort>/`): `clinical_patient.csv`, `clinical_sample.csv` and
`mutations.csv`, with cBioPortal's column names. Deterministic from the pack seed.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

COHORTS = ("brca_synth", "luad_synth", "crc_synth")
SUBTYPES = {
    "brca_synth": ("Luminal A", "Luminal B", "HER2-enriched", "Basal-like"),
    "luad_synth": ("Acinar", "Papillary", "Solid"),
    "crc_synth": ("CMS1", "CMS2", "CMS3", "CMS4"),
}
GENES = {  # gene -> probability that a sample carries a mutation in it
    "brca_synth": {"TP53": 0.35, "PIK3CA": 0.32, "GATA3": 0.12, "CDH1": 0.1, "MAP3K1": 0.08, "KMT2C": 0.09,
                   "PTEN": 0.05, "AKT1": 0.04},
    "luad_synth": {"TP53": 0.45, "KRAS": 0.3, "EGFR": 0.15, "STK11": 0.14, "KEAP1": 0.16, "NF1": 0.09,
                   "BRAF": 0.06, "SMARCA4": 0.07},
    "crc_synth": {"APC": 0.7, "TP53": 0.55, "KRAS": 0.42, "PIK3CA": 0.17, "SMAD4": 0.12, "FBXW7": 0.1,
                  "BRAF": 0.09, "TCF7L2": 0.07},
}
CLASSES = ("Missense_Mutation", "Missense_Mutation", "Missense_Mutation", "Nonsense_Mutation", "Frame_Shift_Del",
           "Splice_Site", "Silent", "Silent")
STAGES = ("I", "II", "III", "IV")
DATA_FOLDER = "cohorts"


@dataclass(frozen=True)
class Cohort:
    """The three tables of one cohort, as rows of strings (exactly what the CSV files hold)."""

    name: str
    patients: list[dict[str, str]]
    samples: list[dict[str, str]]
    mutations: list[dict[str, str]]


def build_cohort(name: str, seed: int) -> Cohort:
    rng = random.Random(f"medgym_bio:{seed}:cohort:{name}")
    patients = [_patient(rng, name, i) for i in range(rng.randint(70, 110))]
    samples = [s for p in patients for s in _samples(rng, p)]
    mutations = [m for s in samples for m in _mutations(rng, name, s)]
    return Cohort(name, patients, samples, mutations)


def _patient(rng: random.Random, cohort: str, index: int) -> dict[str, str]:
    stage = rng.choice(STAGES)
    hazard = 0.02 * (1 + STAGES.index(stage))
    time = round(min(rng.expovariate(hazard), 140.0) + 0.1, 1)
    died = rng.random() < 0.65 and time < 140
    return {
        "PATIENT_ID": f"{cohort[:4].upper()}-{index + 1:04d}", "AGE": str(rng.randint(28, 88)),
        "SEX": "Female" if cohort == "brca_synth" or rng.random() < 0.5 else "Male",
        "SUBTYPE": rng.choice(SUBTYPES[cohort]), "STAGE": stage, "OS_MONTHS": f"{time:.1f}",
        "OS_STATUS": "1:DECEASED" if died else "0:LIVING",
    }


def _samples(rng: random.Random, patient: dict[str, str]) -> list[dict[str, str]]:
    count = 2 if rng.random() < 0.2 else 1
    return [{
        "SAMPLE_ID": f"{patient['PATIENT_ID']}-T{n + 1:02d}", "PATIENT_ID": patient["PATIENT_ID"],
        "SAMPLE_TYPE": "Primary" if n == 0 else "Metastasis",
        "TMB_NONSYNONYMOUS": f"{rng.lognormvariate(1.2, 0.8):.3f}",
    } for n in range(count)]


def _mutations(rng: random.Random, cohort: str, sample: dict[str, str]) -> list[dict[str, str]]:
    rows = []
    for gene, probability in GENES[cohort].items():
        hits = (rng.random() < probability) + (rng.random() < probability / 6)
        for _ in range(hits):
            ref, alt = rng.sample("ACGT", 2)
            rows.append({
                "Hugo_Symbol": gene, "Tumor_Sample_Barcode": sample["SAMPLE_ID"],
                "Variant_Classification": rng.choice(CLASSES), "Chromosome": str(rng.randint(1, 22)),
                "Start_Position": str(rng.randint(100_000, 150_000_000)), "Reference_Allele": ref,
                "Tumor_Seq_Allele2": alt,
            })
    return rows


def write_cohort(cohort: Cohort, directory: Path) -> None:
    folder = directory / DATA_FOLDER / cohort.name
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, rows in (("clinical_patient.csv", cohort.patients), ("clinical_sample.csv", cohort.samples),
                            ("mutations.csv", cohort.mutations)):
        with (folder / file_name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


def sandbox_folder(cohort: str) -> str:
    return f"/data/medgym_bio/{DATA_FOLDER}/{cohort}"
