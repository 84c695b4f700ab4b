"""The `medgym_bio` analysis tasks: BioDSBench-style questions over the synthetic cohorts.

The agent's code must load the cohort's CSVs and define the variable the question names; hidden
asserts check it. Ground truth is computed here in plain Python over the generated rows,
independently of the reference solution (pandas over the mounted CSVs), which certification runs
against the asserts in the real sandbox.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from scoring.code_keys import AssertsKey
from task_store.models import AnswerFormat, IndexedTask, Task
from task_store.pack.bio_cohorts import GENES, STAGES, Cohort, sandbox_folder
from task_store.pack.build import hash_split

DATASET = "medgym_bio"
TIMEOUT_S = 60.0
INSTRUCTIONS = (
    "Write Python analysis code (pandas and numpy are available; lifelines is not) and submit it as one string "
    "with submit_answer. In a fresh sandbox your code runs on its own, then hidden asserts check the variable the "
    "question names; it is correct only when every assert passes. Your code must load the data itself from the "
    "folder given. Use run_code to develop it first."
)
LOAD = '''import pandas as pd

DATA = "{folder}"
patients = pd.read_csv(f"{{DATA}}/clinical_patient.csv")
samples = pd.read_csv(f"{{DATA}}/clinical_sample.csv")
mutations = pd.read_csv(f"{{DATA}}/mutations.csv")
nonsilent = mutations[mutations["Variant_Classification"] != "Silent"]
'''


@dataclass(frozen=True)
class AnalysisSpec:
    question: str
    reference: str  # the analysis, after LOAD
    tests: str


Analysis = Callable[[Cohort, random.Random], AnalysisSpec]


def _mutated_patients(cohort: Cohort, gene: str) -> set[str]:
    owner = {s["SAMPLE_ID"]: s["PATIENT_ID"] for s in cohort.samples}
    return {owner[m["Tumor_Sample_Barcode"]] for m in cohort.mutations
            if m["Hugo_Symbol"] == gene and m["Variant_Classification"] != "Silent"}


def _top_genes(cohort: Cohort, count: int) -> list[str]:
    return sorted(GENES[cohort.name], key=lambda g: -GENES[cohort.name][g])[:count]


def fraction_mutated(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    gene = rng.choice(_top_genes(cohort, 4))
    value = len(_mutated_patients(cohort, gene)) / len(cohort.patients)
    question = (f"What fraction of the patients in clinical_patient.csv have at least one non-silent {gene} "
                f"mutation in any of their samples? Store it as a float between 0 and 1 in `frac_mutated`.")
    reference = f'''hits = nonsilent[nonsilent["Hugo_Symbol"] == "{gene}"]
mutated = samples.loc[samples["SAMPLE_ID"].isin(hits["Tumor_Sample_Barcode"]), "PATIENT_ID"]
frac_mutated = patients["PATIENT_ID"].isin(mutated).mean()
'''
    tests = f"assert abs(float(frac_mutated) - {value!r}) < 1e-9\n"
    return AnalysisSpec(question, reference, tests)


def frequent_genes(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    per_gene: dict[str, set[str]] = defaultdict(set)
    for m in cohort.mutations:
        if m["Variant_Classification"] != "Silent":
            per_gene[m["Hugo_Symbol"]].add(m["Tumor_Sample_Barcode"])
    share = {g: len(s) / len(cohort.samples) for g, s in per_gene.items()}
    options = [p for p in (8, 10, 12, 15, 20, 25) if 0 < sum(v * 100 > p for v in share.values()) < len(share)]
    pct = rng.choice(options)
    value = sorted(g for g, v in share.items() if v * 100 > pct)
    question = (f"Which genes carry a non-silent mutation in more than {pct}% of the samples listed in "
                f"clinical_sample.csv? Store their names as a list sorted alphabetically in `frequent_genes`.")
    reference = f'''share = nonsilent.groupby("Hugo_Symbol")["Tumor_Sample_Barcode"].nunique() / len(samples)
frequent_genes = sorted(share[share * 100 > {pct}].index)
'''
    tests = f"assert list(frequent_genes) == {value!r}\n"
    return AnalysisSpec(question, reference, tests)


def _km_median(rows: list[tuple[float, bool]]) -> float | None:
    survival = 1.0
    for time in sorted({t for t, event in rows if event}):
        at_risk = sum(1 for t, _ in rows if t >= time)
        deaths = sum(1 for t, event in rows if event and t == time)
        survival *= 1 - deaths / at_risk
        if survival <= 0.5:
            return time
    return None


def median_survival(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    groups: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for p in cohort.patients:
        groups[p["SUBTYPE"]].append((float(p["OS_MONTHS"]), p["OS_STATUS"].startswith("1")))
    value = {subtype: _km_median(rows) for subtype, rows in sorted(groups.items())}
    question = (
        "Compute the Kaplan-Meier median overall survival (OS_MONTHS; OS_STATUS '1:DECEASED' is an event, "
        "'0:LIVING' is censored) of each SUBTYPE: the smallest event time at which the Kaplan-Meier estimate "
        "S(t) = prod over event times t_i <= t of (1 - deaths_i / at_risk_i) is 0.5 or less (at risk: OS_MONTHS >= "
        "t_i). Store a dict subtype -> median in `median_os`, with None for a subtype whose estimate never reaches 0.5."
    )
    reference = '''median_os = {}
for subtype, group in patients.groupby("SUBTYPE"):
    times = group["OS_MONTHS"].to_numpy()
    events = group["OS_STATUS"].str.startswith("1").to_numpy()
    survival, median = 1.0, None
    for t in sorted(set(times[events])):
        survival *= 1 - ((times == t) & events).sum() / (times >= t).sum()
        if survival <= 0.5:
            median = float(t)
            break
    median_os[subtype] = median
'''
    tests = f'''__mg_expected = {value!r}
__mg_got = dict(median_os)
assert sorted(__mg_got) == sorted(__mg_expected)
for __mg_key, __mg_value in __mg_expected.items():
    __mg_item = __mg_got[__mg_key]
    if __mg_value is None:
        assert __mg_item is None or __mg_item != __mg_item
    else:
        assert __mg_item is not None and abs(float(__mg_item) - __mg_value) < 1e-6
'''
    return AnalysisSpec(question, reference, tests)


def mutation_counts(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    owner = {s["SAMPLE_ID"]: s["PATIENT_ID"] for s in cohort.samples}
    counts = {p["PATIENT_ID"]: 0 for p in cohort.patients}
    for m in cohort.mutations:
        if m["Variant_Classification"] != "Silent":
            counts[owner[m["Tumor_Sample_Barcode"]]] += 1
    zero = [p for p, n in counts.items() if n == 0][:1]
    picks = {p: counts[p] for p in sorted(rng.sample(sorted(counts), 4) + zero)}
    question = ("Count the non-silent mutations of every patient over all of their samples, patients without any "
                "included with 0. Store a pandas Series indexed by PATIENT_ID (or a dict) in `mutation_counts`.")
    reference = '''per_sample = nonsilent["Tumor_Sample_Barcode"].map(samples.set_index("SAMPLE_ID")["PATIENT_ID"])
mutation_counts = per_sample.value_counts().reindex(patients["PATIENT_ID"], fill_value=0)
'''
    tests = f'''__mg_counts = pd.Series(mutation_counts)
assert len(__mg_counts) == {len(counts)}
assert int(__mg_counts.sum()) == {sum(counts.values())}
for __mg_patient, __mg_n in {picks!r}.items():
    assert int(__mg_counts[__mg_patient]) == __mg_n
'''
    return AnalysisSpec(question, reference, tests)


def _dict_tests(variable: str, value: dict[str, float]) -> str:
    return f'''__mg_expected = {value!r}
__mg_got = dict({variable})
assert sorted(__mg_got) == sorted(__mg_expected)
for __mg_key, __mg_value in __mg_expected.items():
    assert abs(float(__mg_got[__mg_key]) - __mg_value) < 1e-6
'''


def tmb_by_stage(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    stage = {p["PATIENT_ID"]: p["STAGE"] for p in cohort.patients}
    values: dict[str, list[float]] = defaultdict(list)
    for s in cohort.samples:
        if s["SAMPLE_TYPE"] == "Primary":
            values[stage[s["PATIENT_ID"]]].append(float(s["TMB_NONSYNONYMOUS"]))
    value = {k: sum(v) / len(v) for k, v in sorted(values.items())}
    question = ("What is the mean tumour mutational burden (TMB_NONSYNONYMOUS) of the Primary samples for each "
                "STAGE of the patients they come from? Store a dict stage -> mean in `tmb_by_stage`.")
    reference = '''primary = samples[samples["SAMPLE_TYPE"] == "Primary"]
primary = primary.merge(patients[["PATIENT_ID", "STAGE"]], on="PATIENT_ID")
tmb_by_stage = primary.groupby("STAGE")["TMB_NONSYNONYMOUS"].mean().to_dict()
'''
    return AnalysisSpec(question, reference, _dict_tests("tmb_by_stage", value))


def deceased_fraction(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    by_stage: dict[str, list[bool]] = {s: [] for s in STAGES}
    for p in cohort.patients:
        by_stage[p["STAGE"]].append(p["OS_STATUS"].startswith("1"))
    value = {s: sum(v) / len(v) for s, v in by_stage.items() if v}
    question = ("For each STAGE, what fraction of its patients died (OS_STATUS '1:DECEASED')? Store a dict "
                "stage -> fraction in `deceased_fraction`.")
    reference = '''died = patients["OS_STATUS"].str.startswith("1")
deceased_fraction = died.groupby(patients["STAGE"]).mean().to_dict()
'''
    return AnalysisSpec(question, reference, _dict_tests("deceased_fraction", value))


def co_mutated(cohort: Cohort, rng: random.Random) -> AnalysisSpec:
    first, second = sorted(rng.sample(_top_genes(cohort, 3), 2))
    value = len(_mutated_patients(cohort, first) & _mutated_patients(cohort, second))
    question = (f"How many patients have non-silent mutations in both {first} and {second} (in any of their "
                f"samples, not necessarily the same one)? Store the number as an int in `co_mutated`.")
    reference = f'''owner = samples.set_index("SAMPLE_ID")["PATIENT_ID"]
def patients_with(gene):
    return set(owner[nonsilent.loc[nonsilent["Hugo_Symbol"] == gene, "Tumor_Sample_Barcode"]])
co_mutated = len(patients_with("{first}") & patients_with("{second}"))
'''
    tests = f"assert int(co_mutated) == {value} and float(co_mutated) == {value}\n"
    return AnalysisSpec(question, reference, tests)


ANALYSES: dict[str, Analysis] = {
    "fraction-mutated": fraction_mutated, "frequent-genes": frequent_genes, "median-survival": median_survival,
    "mutation-counts": mutation_counts, "tmb-by-stage": tmb_by_stage, "deceased-fraction": deceased_fraction,
    "co-mutated": co_mutated,
}


def context(folder: str) -> str:
    return (
        f"Files (CSV) in {folder}/:\n"
        "- clinical_patient.csv: PATIENT_ID, AGE, SEX, SUBTYPE, STAGE (I-IV), OS_MONTHS (overall survival in "
        "months), OS_STATUS ('1:DECEASED': death observed, '0:LIVING': censored)\n"
        "- clinical_sample.csv: SAMPLE_ID, PATIENT_ID, SAMPLE_TYPE (Primary or Metastasis), TMB_NONSYNONYMOUS\n"
        "- mutations.csv (one row per mutation): Hugo_Symbol, Tumor_Sample_Barcode (a SAMPLE_ID), "
        "Variant_Classification, Chromosome, Start_Position, Reference_Allele, Tumor_Seq_Allele2\n"
        "A non-silent mutation is a row whose Variant_Classification is not 'Silent'."
    )


def analysis_task(slug: str, cohort: Cohort, spec: AnalysisSpec) -> IndexedTask:
    folder = sandbox_folder(cohort.name)
    tail = f"{slug}-{cohort.name}-{hashlib.sha256(spec.tests.encode()).hexdigest()[:8]}"
    split = hash_split(f"{DATASET}/{tail}")
    reference = LOAD.format(folder=folder) + spec.reference
    task = Task(
        task_id=f"{DATASET}/{split}/{tail}", dataset=DATASET, split=split, category=f"analysis: {slug}",
        title=spec.question, question=spec.question, context=context(folder), instructions=INSTRUCTIONS,
        answer_format=AnswerFormat(kind="code", how_to_submit="submit the Python analysis code that defines the "
                                                              "variable the question names"),
    )
    key = AssertsKey(tests=spec.tests, reference=reference, timeout_s=TIMEOUT_S)
    return IndexedTask(task=task, key=key, reference_solution=reference, source=f"pack:{slug}")


def build_analysis_tasks(seed: int, cohorts: list[Cohort]) -> list[IndexedTask]:
    tasks = []
    for slug, analysis in ANALYSES.items():
        for cohort in cohorts:
            rng = random.Random(f"{DATASET}:{seed}:{slug}:{cohort.name}")
            tasks.append(analysis_task(slug, cohort, analysis(cohort, rng)))
    return tasks
