"""Label audit: hand-checked recomputations, causes and conventions, and a run over the shared files."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from statsmodels.stats.power import FTestAnovaPower, GofChisquarePower, TTestIndPower, TTestPower

from scoring.keys import DateKey, GestationalAgeKey, IntegerKey, RangeKey, RelativeKey
from task_store.audit import (
    AuditFinding,
    AuditReport,
    audited_key,
    convention_sentence,
    public_note,
    render_text,
    run_audit,
    write_json,
)
from task_store.audit.entities import Entities
from task_store.audit.medcalc_audit import audit_record
from task_store.audit.power_audit import audit_cases, first_pass
from task_store.audit.power_calc import Convention, power
from task_store.audit.power_parse import Design
from task_store.audit.units import ALBUMIN, CREATININE, GLUCOSE, SODIUM, celsius, centimetres, kilograms
from task_store.loader import discover, read_file

# ------------------------------------------------------------------ MedCalcBench helpers


def _record(name: str, entities: Mapping[str, object], official: str, rel: float = 0.05) -> dict[str, object]:
    """A MedCalcBench record; numeric labels get MedCalcBench's ±`rel` limits (0 = exact)."""
    try:
        value = float(official)
        lower, upper = sorted((value * (1 - rel), value * (1 + rel)))
    except ValueError:
        lower = upper = official  # type: ignore[assignment]
    return {
        "Row Number": 1, "Calculator ID": 0, "Calculator Name": name, "Patient Note": "", "Question": "",
        "Relevant Entities": repr(entities), "Ground Truth Answer": official,
        "Lower Limit": str(lower), "Upper Limit": str(upper),
    }


def _audit(name: str, entities: Mapping[str, object], official: str, rel: float = 0.05) -> AuditFinding:
    return audit_record(_record(name, entities, official, rel), "medcalcbench/test/1")


# ------------------------------------------------------------------ units and entities


def test_unit_conversions() -> None:
    assert kilograms(154, "lbs") == pytest.approx(69.853, abs=1e-3)
    assert centimetres(68, "in") == pytest.approx(172.72)
    assert centimetres(1.63, "m") == pytest.approx(163.0)
    assert celsius(101.3, "degrees fahreinheit") == pytest.approx(38.5)
    assert CREATININE.to_canonical(88.42, "µmol/L") == pytest.approx(1.0)
    assert CREATININE.to_canonical(88.42, "umol/L") == pytest.approx(1.0)
    assert GLUCOSE.to_canonical(5.55, "mmol/L") == pytest.approx(100.0, abs=0.1)
    assert ALBUMIN.to_canonical(35, "g/L") == pytest.approx(3.5)
    assert SODIUM.to_canonical(137, "mEq/L") == 137
    assert Entities({"age": [18, "months"]}, literal=False).age() == pytest.approx(1.5)


def test_implausible_unit_is_reread_only_when_not_literal() -> None:
    raw = {"Sodium": [137.0, "mg/dL"]}
    assert Entities(raw, literal=True).measure(SODIUM, "Sodium") == pytest.approx(59.59, abs=0.01)
    plausible = Entities(raw, literal=False)
    assert plausible.measure(SODIUM, "Sodium") == 137.0
    assert "implausible entity Sodium 137 mg/dL" in plausible.notes[0]


# ------------------------------------------------------------------ one case per calculator family


def test_body_size_with_imperial_units() -> None:
    entities = {"weight": [154.0, "lbs"], "height": [68.0, "in"]}
    ok = _audit("Body Mass Index (BMI)", entities, "23.415")
    assert ok.status == "agrees" and float(ok.recomputed or 0) == pytest.approx(23.415, abs=1e-3)
    wrong = _audit("Body Mass Index (BMI)", entities, "51.622")  # pounds taken as kilograms
    assert wrong.status == "disagrees" and wrong.confident
    assert "reading weight 154.0 lbs as 154.0 kg" in wrong.cause


def test_renal_ckd_epi_from_micromol() -> None:
    entities = {"sex": "Female", "age": [50, "years"], "creatinine": [80.0, "µmol/L"]}
    finding = _audit("CKD-EPI Equations for Glomerular Filtration Rate", entities, "77.391")
    assert finding.status == "agrees"
    assert float(finding.recomputed or 0) == pytest.approx(77.391, rel=1e-4)


def test_electrolytes_albumin_in_grams_per_litre() -> None:
    entities = {"Sodium": [140.0, "mmol/L"], "Chloride": [100.0, "mmol/L"], "Bicarbonate": [18.0, "mmol/L"],
                "Albumin": [25.0, "g/L"]}
    finding = _audit("Albumin Corrected Delta Gap", entities, "13.75")
    assert finding.status == "agrees" and float(finding.recomputed or 0) == pytest.approx(13.75)


def test_label_following_an_implausible_unit_is_flagged_not_trusted() -> None:
    entities = {"Chloride": [95.0, "mmol/L"], "Albumin": [3.6, "g/dL"], "Bicarbonate": [30.0, "mmol/L"],
                "Sodium": [137.0, "mg/dL"]}
    finding = _audit("Albumin Corrected Delta Gap", entities, "-76")  # medcalc took 137 mg/dL literally
    assert finding.status == "disagrees" and not finding.confident
    assert float(finding.recomputed or 0) == pytest.approx(1.0)
    assert "suspect entity" in finding.cause and "Sodium 137 mg/dL" in finding.cause


def test_liver_fib4() -> None:
    entities = {"age": [50, "years"], "Aspartate aminotransferase": [40.0, "U/L"],
                "Alanine aminotransferase": [25.0, "U/L"], "Platelet count": [200.0, "10^9/L"]}
    assert _audit("Fibrosis-4 (FIB-4) Index for Liver Fibrosis", entities, "2.0").status == "agrees"


def test_cardiac_qtc_bazett() -> None:
    entities = {"Heart Rate or Pulse": [75, "beats per minute"], "QT interval": [400, "msec"]}
    finding = _audit("QTc Bazett Calculator", entities, "447.214")
    assert finding.status == "agrees" and float(finding.recomputed or 0) == pytest.approx(400 / math.sqrt(0.8))


def test_cha2ds2_vasc_mismatch_names_the_item() -> None:
    entities = {"sex": "Male", "age": [50.0, "years"], "Congestive Heart Faliure": True, "Stroke": False}
    assert _audit("CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", entities, "1", 0).status == "agrees"
    finding = _audit("CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", entities, "0", 0)
    assert finding.status == "disagrees" and finding.confident and finding.recomputed == "1"
    assert finding.cause == "the entities give 'Congestive Heart Faliure' = True but the label does not count it"


def test_acute_centor_with_fahrenheit() -> None:
    entities = {"age": [30.0, "years"], "Temperature": [101.3, "degrees fahreinheit"], "Cough Absent": True,
                "Exudate or swelling on tonsils": True, "Tender/swollen anterior cervical lymph nodes": False}
    assert _audit("Centor Score (Modified/McIsaac) for Strep Pharyngitis", entities, "3", 0).status == "agrees"


def test_gcs_label_above_the_scale() -> None:
    entities = {"Best eye response": "eyes open spontaneously", "Best verbal response": "confused",
                "Best motor response": "obeys commands"}
    finding = _audit("Glasgow Coma Score (GCS)", entities, "18", 0)
    assert (finding.status, finding.recomputed, finding.confident) == ("disagrees", "14", True)
    assert "outside the score's range 3-15" in finding.cause


def test_thrombosis_wells_dvt() -> None:
    entities = {"Active cancer": True, "Calf swelling >3 centimeters compared to the other leg": True,
                "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely": True}
    assert _audit("Wells' Criteria for DVT", entities, "0", 0).status == "agrees"


def test_due_date_gap_added_instead_of_subtracted() -> None:
    entities = {"cycle length": 25, "Last menstrual date": "01/01/2020"}
    finding = _audit("Estimated Due Date", entities, "10/10/2020")  # LMP + 280 + 3
    assert (finding.status, finding.recomputed, finding.confident) == ("disagrees", "10/04/2020", True)
    assert finding.cause.startswith(
        "due date: cycle gap added instead of subtracted (the instruction text says subtract)"
    )
    assert _audit("Estimated Due Date", entities, "10/04/2020").status == "agrees"


def test_gestational_age() -> None:
    entities = {"Current Date": "03/01/2021", "Last menstrual date": "01/01/2021"}
    finding = _audit("Estimated Gestational Age", entities, "('8 weeks', '3 days')")
    assert finding.status == "agrees" and finding.recomputed == "('8 weeks', '3 days')"


def test_drug_steroid_conversion() -> None:
    entities = {"input steroid": ["PredniSONE PO", 10.0, "mg"], "target steroid": "Dexamethasone PO"}
    assert _audit("Steroid Conversion Calculator", entities, "1.5").status == "agrees"


def test_audit_calculators_not_in_the_pack() -> None:
    ratio = {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [14.0, "mEq/L"]}
    assert _audit("Delta Ratio", ratio, "1.4").status == "agrees"
    target = {"Body Mass Index (BMI)": [22.0, "kg/m^2"], "height": [70, "in"]}
    assert _audit("Target weight", target, "69.548").status == "agrees"
    heart = {"age": [50.0, "years"], "Suspicion History": "Moderately suspicious", "Electrocardiogram Test": "Normal",
             "Initial troponin": "less than or equal to normal limit", "atherosclerotic disease": True}
    assert _audit("HEART Score for Major Cardiac Events", heart, "4", 0).status == "agrees"
    mme = {"FentANYL patch Dose": [25, "mg"], "FentANYL patch Dose Per Day": [1, "per day"],
           "OxyCODONE Dose": [10, "mg"], "OxyCODONE Dose Per Day": [3, "per day"]}
    assert _audit("Morphine Milligram Equivalents (MME) Calculator", mme, "105").status == "agrees"


def test_conflicting_duplicate_entities_are_not_trusted() -> None:
    entities = {"History of cerebrovascular disease": True, "Cerebrovascular disease history": False,
                "History of ischemic heart disease": True, "Pre-operative creatinine": [1.6, "mg/dL"]}
    finding = _audit("Revised Cardiac Risk Index for Pre-Operative Risk", entities, "1", 0)
    assert (finding.status, finding.recomputed, finding.confident) == ("disagrees", "2", False)
    assert "the entities conflict" in finding.cause


def test_cut_off_is_reported_and_not_trusted() -> None:
    entities = {"Blood Urea Nitrogen (BUN)": [18.0, "mg/dL"], "Hemoglobin": [13.0, "g/dL"], "sex": "Male",
                "Systolic Blood Pressure": [130.0, "mm Hg"], "Heart Rate or Pulse": [88.0, "beats per minute"],
                "Melena present": True}
    finding = _audit("Glasgow-Blatchford Bleeding Score (GBS)", entities, "2", 0)
    assert (finding.status, finding.recomputed, finding.confident) == ("disagrees", "1", False)
    assert finding.cause.startswith("cut-off: Hemoglobin = 13")


def test_not_auditable_records_say_why() -> None:
    assert _audit("APACHE II Score", {"age": [60, "years"]}, "20", 0).cause == (
        "no independent calculator for this calculator"
    )
    missing = _audit("Body Mass Index (BMI)", {"weight": [70.0, "kg"]}, "24.0")
    assert missing.status == "not_auditable" and "missing entity 'height'" in missing.cause
    record = _record("Body Mass Index (BMI)", {}, "24.0")
    record["Relevant Entities"] = "{'weight': [70"
    broken = audit_record(record, "medcalcbench/test/1")
    assert broken.status == "not_auditable" and "not a Python literal" in broken.cause


# ------------------------------------------------------------------ N-PowerAI


def _design(task_type: str, target: str, values: dict[str, float], groups: list[list[float]] | None = None,
            n: float | None = None) -> Design:
    return Design(task_type, target, 0.05, 0.8 if target == "size" else None, n, 2, values, groups or [])  # type: ignore[arg-type]


def test_power_functions_match_statsmodels() -> None:
    one = _design("One-sample t-test", "power", {"mean": 105, "reference": 100, "sd": 10})
    assert power(one, Convention(2, "d", "total", "t"), 30) == pytest.approx(TTestPower().power(0.5, 30, 0.05))
    two = _design("Two independent samples t-test", "power", {"diff": 5, "sd1": 10, "sd2": 10})
    assert power(two, Convention(1, "d_rms", "per group", "t"), 40) == pytest.approx(
        TTestIndPower().power(0.5, 40, 0.05, alternative="larger")
    )
    anova = _design("One-way ANOVA", "power", {"sd": 10}, [[10, 12, 14]])
    f = math.sqrt(((10 - 12) ** 2 + (14 - 12) ** 2) / 3) / 10
    assert power(anova, Convention(0, "f_k", "per group", "F"), 20) == pytest.approx(
        FTestAnovaPower().power(f, 60, 0.05, k_groups=3)
    )
    chi = _design("Chi-square test of independence", "power", {}, [[0.5, 0.5], [0.3, 0.7]])
    w = math.sqrt(2 * (0.1**2 / 0.4 + 0.1**2 / 0.6) / 2)
    assert power(chi, Convention(0, "w", "total", "chi2"), 100) == pytest.approx(
        GofChisquarePower().power(w, 100, 0.05, n_bins=2)
    )


_ONE_SAMPLE = (
    "The average systolic blood pressure of adults in general is 120. She assumes the average in her sample "
    "to be 100 with a standard deviation of 20. How large a sample is needed for a two-sided test with a power "
    "of 90% at a significance level of 0.05?"
)
_ANOVA = (
    "The researcher assumes that the sample mean of scores for each group will be 540, 550, 560, and 570, "
    "respectively. The standard deviation for each group will be equal to the national value of 80. What's the "
    "minimum number of students needed in each group to achieve 80% of power at a significance level of 0.05?"
)
_PAIRED = (
    "A new drug is expected to reduce cholesterol levels 10 units with a standard deviation of 38. The physician "
    "collected a random sample of 53 adults. What is the power for detecting a reduction at the significance "
    "level of 0.05?"
)
_COX = (
    "Suppose the probabilities of failure in groups E and C are 0.3707 and 0.4890, respectively. The hazard ratio "
    "for group E compared with group C is assumed to be 0.5. The sample size of each group will be the same having "
    "294 person. What's the power for a two-sided test at the significance level of 0.05?"
)


def _npower(records: list[tuple[str, str, str, float]]) -> list[AuditFinding]:
    cases = [
        first_pass({"task_type": t, "estimate_target": g, "question": q, "answer": a}, f"npowerai/train/{i + 1}")
        for i, (t, g, q, a) in enumerate(records)
    ]
    return audit_cases(cases)[0]


def test_one_sample_size_reports_the_matching_convention() -> None:
    exact = math.ceil(TTestPower().solve_power(1.0, alpha=0.05, power=0.9))  # 13, two-sided as stated
    (finding,) = _npower([("One-sample t-test", "size", _ONE_SAMPLE, exact)])
    assert (finding.status, finding.recomputed) == ("agrees", "13")
    assert "two-sided, noncentral t" in finding.cause
    one_sided = math.ceil(TTestPower().solve_power(1.0, alpha=0.05, power=0.9, alternative="larger"))  # 11
    (other,) = _npower([("One-sample t-test", "size", _ONE_SAMPLE, one_sided)])
    assert other.status == "agrees" and "one-sided, noncentral t" in other.cause
    assert other.cause.endswith("but not under the type's convention (two-sided, noncentral t, d = |mean - "
                                "reference| / SD, n total, rounded up), which gives 13")


def test_anova_effect_size_convention_is_identified() -> None:
    f = math.sqrt(500 / 3) / 80  # SD of the means with k - 1
    per_group = math.ceil(FTestAnovaPower().solve_power(effect_size=f, alpha=0.05, power=0.8, k_groups=4) / 4)
    (finding,) = _npower([("One-way ANOVA", "size", _ANOVA, per_group)])
    assert finding.status == "agrees" and "divide by k - 1" in finding.cause and "n per group" in finding.cause


def test_power_label_at_another_n_is_found() -> None:
    label = TTestPower().power(10 / 38, 42, 0.05, alternative="larger")  # computed at n = 42, not 53
    (finding,) = _npower([("Paired t-test", "power", _PAIRED, label)])
    assert finding.status == "disagrees" and finding.confident
    assert finding.cause.startswith("label is the power at n = 42, not at the stated n")
    assert float(finding.recomputed or 0) == pytest.approx(TTestPower().power(10 / 38, 53, 0.05, alternative="larger"))


def test_power_label_at_another_hazard_ratio_is_found() -> None:
    events = 294 * (0.3707 + 0.4890)
    at_07 = 0.5 * math.erfc(-(math.sqrt(events) * 0.3 / 1.7 - 1.959963984540054) / math.sqrt(2))
    (finding,) = _npower([("Cox proportional-hazards model", "power", _COX, at_07)])
    assert finding.status == "disagrees" and finding.confident
    assert "label is the power at hazard ratio 0.7" in finding.cause


def test_unparseable_or_degenerate_question_is_not_auditable() -> None:
    (finding,) = _npower([("One-sample t-test", "size", "How many patients do I need?", 10)])
    assert finding.status == "not_auditable" and finding.cause.startswith("question not parsed")
    zero_sd = _ONE_SAMPLE.replace("standard deviation of 20", "standard deviation of 0")
    (degenerate,) = _npower([("One-sample t-test", "size", zero_sd, 10)])
    assert degenerate.status == "not_auditable" and degenerate.recomputed is None


# ------------------------------------------------------------------ audited keys


def _disagreement(official: str, recomputed: str, confident: bool = True) -> AuditFinding:
    return AuditFinding(task_id="x/test/1", dataset="x", category="c", status="disagrees", official=official,
                        recomputed=recomputed, confident=confident)


def test_audited_keys_are_built_like_the_official_ones() -> None:
    scaled = audited_key(_disagreement("10", "20"), RangeKey(lower=9.5, upper=10.5))
    assert scaled == RangeKey(lower=19.0, upper=21.0)
    negative = audited_key(_disagreement("-2", "-4"), RangeKey(lower=-2.1, upper=-1.9))
    assert isinstance(negative, RangeKey)
    assert negative.lower == pytest.approx(-4.2) and negative.upper == pytest.approx(-3.8)
    assert audited_key(_disagreement("0", "3"), RangeKey(lower=0, upper=0)) == RangeKey(lower=3, upper=3)
    assert audited_key(_disagreement("10/10/2020", "10/04/2020"), DateKey(date="2020-10-10")) == DateKey(
        date="2020-10-04"
    )
    gestation = audited_key(_disagreement("('8 weeks', '3 days')", "('8 weeks', '4 days')"),
                            GestationalAgeKey(weeks=8, days=3))
    assert gestation == GestationalAgeKey(weeks=8, days=4)
    assert audited_key(_disagreement("42", "40"), IntegerKey(value=42)) == IntegerKey(value=40)
    assert audited_key(_disagreement("0.8", "0.6"), RelativeKey(value=0.8)) == RelativeKey(value=0.6, rel_tol=0.01)


def test_official_key_is_kept_unless_a_trusted_disagreement() -> None:
    key = RangeKey(lower=9.5, upper=10.5)
    assert audited_key(_disagreement("10", "20", confident=False), key) is None
    agreeing = _disagreement("10", "10").model_copy(update={"status": "agrees"})
    assert audited_key(agreeing, key) is None


# ------------------------------------------------------------------ the shared files


@pytest.fixture(scope="module")
def shared_report(shared_dir: Path) -> AuditReport:
    started = time.perf_counter()
    report = run_audit(shared_dir)
    assert time.perf_counter() - started < 15
    return report


def test_every_shared_record_gets_a_finding_with_the_store_task_id(
    shared_report: AuditReport, shared_dir: Path
) -> None:
    expected = [
        task.task.task_id
        for task_file in discover(shared_dir)
        if task_file.dataset in ("medcalcbench", "npowerai")
        for _, task in read_file(task_file, [])
    ]
    assert sorted(f.task_id for f in shared_report.findings) == sorted(expected)
    assert len(expected) == 220 + 865
    assert shared_report.skipped == []


def test_counts_add_up(shared_report: AuditReport) -> None:
    totals = shared_report.totals()
    for dataset, categories in shared_report.counts().items():
        assert sum(c.total for c in categories.values()) == totals[dataset].total
        assert totals[dataset].total == sum(1 for f in shared_report.findings if f.dataset == dataset)
    print("\n" + render_text(shared_report))


def test_shared_due_date_disagreements_are_the_cycle_gap(shared_report: AuditReport) -> None:
    due = [f for f in shared_report.findings if f.category == "Estimated Due Date" and f.status == "disagrees"]
    assert due and all(f.confident and f.cause.startswith("due date: cycle gap added") for f in due)


def test_shared_conventions_per_task_type(shared_report: AuditReport) -> None:
    sentences = {c.task_type: c.sentence for c in shared_report.conventions}
    assert len(sentences) == 6
    assert "divide by k - 1" in sentences["One-way ANOVA"] and "per group" in sentences["One-way ANOVA"]
    assert "Freedman" in sentences["Cox proportional-hazards model"]
    assert "two-sided when it states none" in sentences["One-sample t-test"]


def test_report_outputs(shared_report: AuditReport, tmp_path: Path) -> None:
    path = write_json(shared_report, tmp_path / "audit.json")
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert len(payload["findings"]) == len(shared_report.findings)
    assert payload["counts"]["npowerai"]["One-way ANOVA"]["total"] == 135
    text = render_text(shared_report, details=True)
    assert "medcalcbench  (all)" in text and "findings other than agreements:" in text
    assert AuditReport.model_validate_json(shared_report.model_dump_json()) == shared_report


def test_agent_notes_never_carry_labels_or_values(shared_report: AuditReport) -> None:
    for finding in shared_report.findings:
        key = RangeKey(lower=0, upper=1) if finding.dataset == "medcalcbench" else RelativeKey(value=0.5)
        for audited in (False, True):
            note = public_note(finding, key, audited)
            assert finding.official not in note and (finding.recomputed or "\x00") not in note
            assert not any(ch.isdigit() for ch in note)
    sentence = convention_sentence(shared_report, "Paired t-test")
    assert sentence is not None and "42" not in sentence and "53" not in sentence
    assert convention_sentence(shared_report, "no such type") is None


# ------------------------------------------------------------------ the server's audit index


def test_a_process_audits_unchanged_files_once(shared_dir: Path, tmp_path: Path) -> None:
    """Servers built again over the same files reuse the audit; a changed file is audited again."""
    from task_store.audit_index import build_audit

    data = tmp_path / "data" / "medcalcbench"
    data.mkdir(parents=True)
    lines = (shared_dir / "medcalcbench" / "test_tasks.jsonl").read_text().splitlines()[:5]
    (data / "test_tasks.jsonl").write_text("\n".join(lines) + "\n")
    first = build_audit([tmp_path / "data"], "official")
    again = build_audit([tmp_path / "data"], "audited")
    assert len(first.findings) == 5 and again.labels == "audited"
    assert all(again.findings[k] is first.findings[k] for k in first.findings)  # not recomputed
    (data / "test_tasks.jsonl").write_text("\n".join(lines[:3]) + "\n")
    assert len(build_audit([tmp_path / "data"], "official").findings) == 3


def test_an_audit_is_remembered_until_its_files_change(tmp_path: Path, shared_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that loads the same data again reuses its audit; a changed task file is audited again."""
    import shutil

    from task_store import audit_index

    shutil.copytree(shared_dir / "medcalcbench", tmp_path / "medcalcbench")
    calls: list[Path] = []

    def counted(directory: Path, *args: object) -> object:
        calls.append(directory)
        return run_audit(directory, *args)

    monkeypatch.setattr(audit_index, "run_audit", counted)
    first = audit_index.build_audit([tmp_path], "official")
    again = audit_index.build_audit([tmp_path], "official")
    assert len(calls) == 1 and first.findings == again.findings
    tasks = tmp_path / "medcalcbench" / "test_tasks.jsonl"
    tasks.write_text("\n".join(tasks.read_text().splitlines()[:5]) + "\n")
    changed = audit_index.build_audit([tmp_path], "official")
    assert len(calls) == 2 and set(changed.findings) <= set(first.findings)
