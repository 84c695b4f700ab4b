"""`medgym_bio` function templates over count tables and intervals: CPM, TPM, fold change, merging, overlap."""

from __future__ import annotations

import random

from task_store.pack.bio_function_tasks import FunctionSpec


def _genes(rng: random.Random, count: int) -> list[str]:
    return rng.sample(["TP53", "KRAS", "EGFR", "MYC", "BRCA1", "PTEN", "GAPDH", "ACTB", "CDK4", "ALK", "RB1",
                       "NRAS", "IDH1", "ATM", "APC"], count)


def cpm(rng: random.Random) -> FunctionSpec:
    digits = rng.choice([2, 3])
    statement = (
        "Write a function `cpm(counts)` that normalises one sample's read counts (a dict gene -> count) to counts "
        "per million: each count divided by the sample's total count, times 1,000,000, rounded to "
        f"{digits} decimal places. Return a dict with the same genes. When the total is 0 every gene gets 0.0. A "
        "negative count raises ValueError."
    )
    reference = f'''def cpm(counts):
    if any(value < 0 for value in counts.values()):
        raise ValueError("negative count")
    total = sum(counts.values())
    if total == 0:
        return {{gene: 0.0 for gene in counts}}
    return {{gene: round(value / total * 1_000_000, {digits}) for gene, value in counts.items()}}
'''
    cases: list[tuple[object, ...]] = [({},), ({"A": 0, "B": 0},), ({"A": 1},), ({"A": 3, "B": -1},),
                                       ({"A": 1, "B": 2},)]
    for _ in range(5):
        genes = _genes(rng, rng.randint(2, 8))
        cases.append(({g: rng.randint(0, 5000) for g in genes},))
    return FunctionSpec("cpm", "counts", statement, reference, cases, ({"TP53": 30, "GAPDH": 70},))


def tpm(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `tpm(counts, lengths)` that computes transcripts per million for one sample. `counts` and "
        "`lengths` are dicts gene -> read count and gene -> length in bases. For every gene of `counts`, its rate "
        "is count / (length / 1000); TPM is rate / (sum of all rates) * 1,000,000, rounded to 2 decimal places. "
        "Return a dict gene -> TPM. When every rate is 0 all TPMs are 0.0. A gene without a length, or with a "
        "length of 0 or less, raises ValueError."
    )
    reference = '''def tpm(counts, lengths):
    rates = {}
    for gene, count in counts.items():
        length = lengths.get(gene)
        if length is None or length <= 0:
            raise ValueError(f"no usable length for {gene}")
        rates[gene] = count / (length / 1000)
    total = sum(rates.values())
    if total == 0:
        return {gene: 0.0 for gene in rates}
    return {gene: round(rate / total * 1_000_000, 2) for gene, rate in rates.items()}
'''
    cases: list[tuple[object, ...]] = [({}, {}), ({"A": 0}, {"A": 100}), ({"A": 5}, {"B": 10}), ({"A": 5}, {"A": 0}),
                                       ({"A": 10, "B": 10}, {"A": 1000, "B": 2000})]
    for _ in range(5):
        genes = _genes(rng, rng.randint(2, 7))
        cases.append(({g: rng.randint(0, 3000) for g in genes}, {g: rng.randint(200, 9000) for g in genes}))
    return FunctionSpec("tpm", "counts, lengths", statement, reference, cases,
                        ({"TP53": 100, "MYC": 50}, {"TP53": 2000, "MYC": 500}))


def log2_fold_change(rng: random.Random) -> FunctionSpec:
    pseudo = rng.choice([0.5, 1, 2])
    statement = (
        "Write a function `log2_fold_change(group_a, group_b)` for one gene's normalised expression values in two "
        "groups of samples (lists of numbers): return log2((mean(group_b) + pc) / (mean(group_a) + pc)) with "
        f"pseudocount pc = {pseudo}, rounded to 4 decimal places. An empty group raises ValueError."
    )
    reference = f'''import math


def log2_fold_change(group_a, group_b):
    if not group_a or not group_b:
        raise ValueError("empty group")
    mean_a = sum(group_a) / len(group_a)
    mean_b = sum(group_b) / len(group_b)
    return round(math.log2((mean_b + {pseudo}) / (mean_a + {pseudo})), 4)
'''
    cases: list[tuple[object, ...]] = [([], [1]), ([1], []), ([0], [0]), ([1, 3], [8]), ([10.0, 20.0], [0, 0, 0])]
    for _ in range(6):
        cases.append(([round(rng.uniform(0, 300), 2) for _ in range(rng.randint(1, 6))],
                      [round(rng.uniform(0, 300), 2) for _ in range(rng.randint(1, 6))]))
    return FunctionSpec("log2_fold_change", "group_a, group_b", statement, reference, cases, ([2, 4], [10, 14]))


def _intervals(rng: random.Random) -> list[tuple[int, int]]:
    out = []
    for _ in range(rng.randint(1, 8)):
        start = rng.randint(0, 100)
        out.append((start, start + rng.randint(0, 25)))
    return out


def merge_intervals(rng: random.Random) -> FunctionSpec:
    adjacent = rng.random() < 0.5
    touching = ("intervals that only touch ([1, 5) and [5, 8)) are merged too" if adjacent
                else "intervals that only touch ([1, 5) and [5, 8)) stay separate")
    statement = (
        "Write a function `merge_intervals(intervals)` that merges overlapping half-open genomic intervals "
        "[start, end) given as (start, end) pairs in any order, and returns the merged intervals as a list of "
        f"(start, end) tuples sorted by start; {touching}. Empty intervals (start == end) are dropped. An interval "
        "with end < start raises ValueError."
    )
    condition = "start <= merged[-1][1]" if adjacent else "start < merged[-1][1]"
    reference = f'''def merge_intervals(intervals):
    if any(end < start for start, end in intervals):
        raise ValueError("end before start")
    merged = []
    for start, end in sorted((s, e) for s, e in intervals if e > s):
        if merged and {condition}:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
'''
    cases: list[tuple[object, ...]] = [([],), ([(3, 3)],), ([(1, 5), (5, 8)],), ([(5, 8), (1, 6)],), ([(4, 2)],),
                                       ([(1, 10), (2, 3), (12, 14)],)]
    cases += [(_intervals(rng),) for _ in range(6)]
    return FunctionSpec("merge_intervals", "intervals", statement, reference, cases, ([(10, 20), (1, 4), (3, 7)],))


def overlap_bases(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `overlap_bases(a, b)` that returns how many bases are covered by both of two sets of "
        "half-open intervals [start, end) on one chromosome (each a list of (start, end) pairs, possibly "
        "overlapping within a set): the size of the intersection of their unions. An interval with end < start "
        "raises ValueError."
    )
    reference = '''def overlap_bases(a, b):
    def union(intervals):
        if any(end < start for start, end in intervals):
            raise ValueError("end before start")
        merged = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return merged

    total = 0
    for s1, e1 in union(a):
        for s2, e2 in union(b):
            total += max(0, min(e1, e2) - max(s1, s2))
    return total
'''
    cases: list[tuple[object, ...]] = [([], []), ([(0, 10)], []), ([(0, 10)], [(10, 20)]),
                                       ([(0, 10), (5, 15)], [(8, 9)]), ([(5, 1)], [(0, 3)]),
                                       ([(0, 5)], [(0, 5), (1, 4)])]
    cases += [(_intervals(rng), _intervals(rng)) for _ in range(6)]
    return FunctionSpec("overlap_bases", "a, b", statement, reference, cases, ([(0, 10), (20, 30)], [(5, 25)]))
