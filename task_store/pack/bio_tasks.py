"""The `medgym_bio` pack dataset: BioCoder-style function tasks and BioDSBench-style analyses.

    medgym_bio/cohorts/<cohort>/  clinical_patient.csv, clinical_sample.csv, mutations.csv  (mounted)
    medgym_bio/<split>_tasks.jsonl  (never mounted: harnesses, asserts and references live only here)
"""

from __future__ import annotations

from pathlib import Path

from task_store.models import IndexedTask
from task_store.pack import bio_count_templates as counts
from task_store.pack import bio_read_templates as reads
from task_store.pack import bio_seq_templates as seqs
from task_store.pack.bio_analyses import build_analysis_tasks
from task_store.pack.bio_cohorts import COHORTS, build_cohort, write_cohort
from task_store.pack.bio_function_tasks import Template, build_function_tasks

INSTANCES_PER_TEMPLATE = 3
TEMPLATES: dict[str, Template] = {
    "reverse-complement": seqs.reverse_complement, "gc-content": seqs.gc_content, "gc-windows": seqs.gc_windows,
    "translate": seqs.translate, "kmer-counts": seqs.kmer_counts, "find-motif": seqs.find_motif,
    "hamming": seqs.hamming, "longest-orf": seqs.longest_orf, "melting-temperature": seqs.melting_temperature,
    "parse-cigar": reads.parse_cigar, "cigar-span": reads.cigar_span, "parse-fasta": reads.parse_fasta,
    "parse-fastq": reads.parse_fastq, "mean-quality": reads.mean_quality, "expected-errors": reads.expected_errors,
    "trim-quality": reads.trim_quality, "n50": reads.n50, "classify-variant": reads.classify_variant,
    "cpm": counts.cpm, "tpm": counts.tpm, "log2-fold-change": counts.log2_fold_change,
    "merge-intervals": counts.merge_intervals, "overlap-bases": counts.overlap_bases,
}


def build_bio_tasks(seed: int, directory: Path) -> list[IndexedTask]:
    """Write the cohorts under `directory` and return every function and analysis task."""
    cohorts = [build_cohort(name, seed) for name in COHORTS]
    for cohort in cohorts:
        write_cohort(cohort, directory)
    return build_function_tasks(seed, TEMPLATES, INSTANCES_PER_TEMPLATE) + build_analysis_tasks(seed, cohorts)
