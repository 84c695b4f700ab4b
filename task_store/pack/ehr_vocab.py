"""Small public vocabularies for the synthetic EHR of the open task pack (`medgym_ehr`).

Codes and titles are public ICD-9-CM entries; item ids follow MIMIC-III's public dictionaries
(CareVue chart/input/output items, lab items). Everything is lower-case, as in EHRSQL.
Weights are relative frequencies used by the generator; they are not real statistics.
"""

from __future__ import annotations

from typing import NamedTuple


class Icd(NamedTuple):
    code: str
    short_title: str
    long_title: str
    weight: int


class Drug(NamedTuple):
    name: str
    routes: tuple[str, ...]
    doses: tuple[float, ...]
    unit: str
    weight: int


class Measure(NamedTuple):
    """A lab or chart item: values are drawn around `mean` with spread `sd`, clipped to [lo, hi]."""

    itemid: int
    label: str
    unit: str
    mean: float
    sd: float
    lo: float
    hi: float
    decimals: int


class LabItem(NamedTuple):
    measure: Measure
    fluid: str
    category: str
    normal: tuple[float, float]


class VolumeItem(NamedTuple):
    """An intake (inputevents_cv) or output (outputevents) item with its usual volume in ml."""

    itemid: int
    label: str
    low: float
    high: float
    weight: int


def _icd(rows: str) -> tuple[Icd, ...]:
    out = []
    for line in rows.strip().splitlines():
        code, short, long, weight = (part.strip() for part in line.split("|"))
        out.append(Icd(code, short, long, int(weight)))
    return tuple(out)


DIAGNOSES: tuple[Icd, ...] = _icd("""
4019|hypertension nos|unspecified essential hypertension|40
4280|chf nos|congestive heart failure, unspecified|28
42731|atrial fibrillation|atrial fibrillation|28
41401|crnry athrscl natve vssl|coronary atherosclerosis of native coronary artery|25
5849|acute kidney failure nos|acute kidney failure, unspecified|20
25000|dmii wo cmp nt st uncntr|diabetes mellitus without mention of complication, type ii or unspecified type, not stated as uncontrolled|20
2724|hyperlipidemia nec/nos|other and unspecified hyperlipidemia|18
51881|acute respiratry failure|acute respiratory failure|16
5990|urin tract infection nos|urinary tract infection, site not specified|15
53081|esophageal reflux|esophageal reflux|14
2720|pure hypercholesterolem|pure hypercholesterolemia|12
2859|anemia nos|anemia, unspecified|12
2449|hypothyroidism nos|unspecified acquired hypothyroidism|11
486|pneumonia, organism nos|pneumonia, organism unspecified|11
2851|ac posthemorrhag anemia|acute posthemorrhagic anemia|10
2762|acidosis|acidosis|9
496|chr airway obstruct nec|chronic airway obstruction, not elsewhere classified|9
99592|severe sepsis|severe sepsis|8
0389|septicemia nos|unspecified septicemia|8
5859|chronic kidney dis nos|chronic kidney disease, unspecified|8
311|depressive disorder nec|depressive disorder, not elsewhere classified|8
40390|hy kid nos w cr kid i-iv|hypertensive chronic kidney disease, unspecified, with chronic kidney disease stage i through stage iv, or unspecified|7
3051|tobacco use disorder|tobacco use disorder|7
412|old myocardial infarct|old myocardial infarction|7
v4581|aortocoronary bypass|aortocoronary bypass status|6
2761|hyposmolality|hyposmolality and/or hyponatremia|6
42789|cardiac dysrhythmias nec|other specified cardiac dysrhythmias|6
4241|aortic valve disorder|aortic valve disorders|6
v5861|long-term use anticoagul|long-term (current) use of anticoagulants|6
2875|thrombocytopenia nos|thrombocytopenia, unspecified|6
41071|subendo infarct, initial|subendocardial infarction, initial episode of care|5
2767|hyperpotassemia|hyperpotassemia|5
5070|food/vomit pneumonitis|pneumonitis due to inhalation of food or vomitus|5
78552|septic shock|septic shock|5
2760|hyperosmolality|hyperosmolality and/or hypernatremia|4
4254|prim cardiomyopathy nec|other primary cardiomyopathies|4
v1582|history of tobacco use|personal history of tobacco use|4
2639|protein-cal malnutr nos|unspecified protein-calorie malnutrition|4
5119|pleural effusion nos|unspecified pleural effusion|4
4589|hypotension nos|hypotension, unspecified|4
1977|second malig neo liver|secondary malignant neoplasm of liver, specified as secondary|3
5715|cirrhosis of liver nos|cirrhosis of liver without mention of alcohol|3
5712|alcohol cirrhosis liver|alcoholic cirrhosis of liver|3
30390|alcoh dep nec/nos-unspec|other and unspecified alcohol dependence, unspecified|3
2930|delirium d/t other cond|delirium due to conditions classified elsewhere|3
7907|bacteremia|bacteremia|3
4240|mitral valve disorder|mitral valve disorders|3
4271|parox ventric tachycard|paroxysmal ventricular tachycardia|3
4439|periph vascular dis nos|peripheral vascular disease, unspecified|3
43491|crbl art ocl nos w infrc|cerebral artery occlusion, unspecified with cerebral infarction|3
431|intracerebral hemorrhage|intracerebral hemorrhage|3
5789|gastrointest hemorr nos|hemorrhage of gastrointestinal tract, unspecified|3
5770|acute pancreatitis|acute pancreatitis|2
570|acute necrosis of liver|acute and subacute necrosis of liver|2
78039|convulsions nec|other convulsions|2
2809|iron defic anemia nos|iron deficiency anemia, unspecified|2
4275|cardiac arrest|cardiac arrest|2
4160|prim pulm hypertension|primary pulmonary hypertension|2
49390|asthma nos|asthma, unspecified type, unspecified|2
73300|osteoporosis nos|osteoporosis, unspecified|2
v1251|hx-ven thrombosis/embols|personal history of venous thrombosis and embolism|2
5601|paralytic ileus|paralytic ileus|2
00845|int inf clstrdium dfcile|intestinal infection due to clostridium difficile|2
27651|dehydration|dehydration|2
2768|hypopotassemia|hypopotassemia|2
5845|ac kidny fail, tubr necr|acute kidney failure with lesion of tubular necrosis|2
51884|acute & chronc resp fail|acute and chronic respiratory failure|2
42823|ac on chr syst hrt fail|acute on chronic systolic heart failure|2
42833|ac on chr diast hrt fail|acute on chronic diastolic heart failure|2
99591|sepsis|sepsis|2
2869|coagulat defect nec/nos|other and unspecified coagulation defects|1
3320|paralysis agitans|paralysis agitans|1
1629|mal neo bronch/lung nos|malignant neoplasm of bronchus and lung, unspecified|1
185|malign neopl prostate|malignant neoplasm of prostate|1
""")  # noqa: E501

PROCEDURES: tuple[Icd, ...] = _icd("""
3893|venous cath nec|venous catheterization, not elsewhere classified|30
9604|insert endotracheal tube|insertion of endotracheal tube|18
9671|cont inv mec ven <96 hrs|continuous invasive mechanical ventilation for less than 96 consecutive hours|16
9672|cont inv mec ven 96+ hrs|continuous invasive mechanical ventilation for 96 consecutive hours or more|10
9904|packed cell transfusion|transfusion of packed cells|16
3891|arterial catheterization|arterial catheterization|12
3961|extracorporeal circulat|extracorporeal circulation auxiliary to open heart surgery|8
8856|coronar arteriogr-2 cath|coronary arteriography using two catheters|8
3995|hemodialysis|hemodialysis|8
966|entral infus nutrit sub|enteral infusion of concentrated nutritional substances|8
9915|parent infus nutrit sub|parenteral infusion of concentrated nutritional substances|6
0066|ptca|percutaneous transluminal coronary angioplasty [ptca]|6
3722|left heart cardiac cath|left heart cardiac catheterization|6
3615|1 int mam-cor art bypass|single internal mammary-coronary artery bypass|5
3612|aortocor bypas-2 cor art|(aorto)coronary bypass of two coronary arteries|4
3607|ins drug-elut coronry st|insertion of drug-eluting coronary artery stent(s)|5
0040|procedure-one vessel|procedure on single vessel|4
0045|insert 1 vascular stent|insertion of one vascular stent|4
3404|insert intercostal cath|insertion of intercostal catheter for drainage|4
311|temporary tracheostomy|temporary tracheostomy|4
4311|percu endosc gastrostomy|percutaneous [endoscopic] gastrostomy [peg]|4
5491|percu abdominal drainage|percutaneous abdominal drainage|3
8872|dx ultrasound-heart|diagnostic ultrasound of heart|3
8741|c.a.t. scan of thorax|computerized axial tomography of thorax|3
9390|non-invasive mech vent|non-invasive mechanical ventilation|3
9907|serum transfusion nec|transfusion of other serum|3
9905|platelet transfusion|transfusion of platelets|3
5123|lap cholecystectomy|laparoscopic cholecystectomy|2
8154|total knee replacement|total knee replacement|2
8151|total hip replacement|total hip replacement|2
0331|spinal tap|spinal tap|2
4516|egd with closed biopsy|esophagogastroduodenoscopy [egd] with closed biopsy|2
4523|colonoscopy|colonoscopy|2
3778|insrt tmp pacemaker sys|insertion of temporary transvenous pacemaker system|1
3324|closed bronchial biopsy|closed [endoscopic] biopsy of bronchus|1
""")

#: procedures that may be repeated within one admission
REPEATABLE_PROCEDURES = ("3893", "9904", "3995", "9905", "9907", "3891")

DRUGS: tuple[Drug, ...] = (
    Drug("potassium chloride", ("po", "iv"), (20.0, 40.0), "meq", 30),
    Drug("furosemide", ("iv", "po"), (20.0, 40.0, 80.0), "mg", 24),
    Drug("insulin", ("sc", "iv"), (2.0, 4.0, 6.0, 10.0), "unit", 30),
    Drug("heparin", ("sc", "iv"), (5000.0,), "unit", 24),
    Drug("metoprolol tartrate", ("po", "ng"), (12.5, 25.0, 50.0), "mg", 22),
    Drug("acetaminophen", ("po", "pr"), (325.0, 650.0, 1000.0), "mg", 26),
    Drug("docusate sodium", ("po",), (100.0,), "mg", 20),
    Drug("senna", ("po",), (1.0, 2.0), "tab", 18),
    Drug("pantoprazole", ("po", "iv"), (40.0,), "mg", 18),
    Drug("magnesium sulfate", ("iv",), (1.0, 2.0, 4.0), "gm", 18),
    Drug("sodium chloride 0.9%  flush", ("iv",), (3.0, 10.0), "ml", 22),
    Drug("0.9% sodium chloride", ("iv",), (250.0, 500.0, 1000.0), "ml", 20),
    Drug("d5w", ("iv",), (250.0, 500.0), "ml", 14),
    Drug("morphine sulfate", ("iv", "po"), (2.0, 4.0), "mg", 12),
    Drug("aspirin", ("po", "pr"), (81.0, 325.0), "mg", 16),
    Drug("atorvastatin", ("po",), (10.0, 20.0, 40.0, 80.0), "mg", 10),
    Drug("lisinopril", ("po",), (2.5, 5.0, 10.0, 20.0), "mg", 8),
    Drug("vancomycin", ("iv",), (1000.0, 1250.0), "mg", 12),
    Drug("piperacillin-tazobactam", ("iv",), (2.25, 3.375, 4.5), "gm", 8),
    Drug("ceftriaxone", ("iv",), (1.0, 2.0), "gm", 7),
    Drug("levofloxacin", ("po", "iv"), (500.0, 750.0), "mg", 6),
    Drug("metronidazole", ("po", "iv"), (500.0,), "mg", 6),
    Drug("warfarin", ("po",), (1.0, 2.5, 5.0), "mg", 8),
    Drug("amiodarone", ("po", "iv"), (200.0, 400.0), "mg", 6),
    Drug("lorazepam", ("iv", "po"), (0.5, 1.0, 2.0), "mg", 8),
    Drug("haloperidol", ("iv", "im", "po"), (0.5, 1.0, 2.0, 5.0), "mg", 5),
    Drug("ondansetron", ("iv", "po"), (4.0, 8.0), "mg", 10),
    Drug("famotidine", ("iv", "po"), (20.0,), "mg", 7),
    Drug("simvastatin", ("po",), (20.0, 40.0), "mg", 6),
    Drug("clopidogrel bisulfate", ("po",), (75.0, 300.0), "mg", 6),
    Drug("albuterol neb soln", ("neb", "ih"), (1.0, 2.0), "neb", 8),
    Drug("ipratropium bromide neb", ("neb",), (1.0,), "neb", 6),
    Drug("prednisone", ("po",), (5.0, 10.0, 20.0, 40.0), "mg", 5),
    Drug("hydrocortisone na succ.", ("iv",), (50.0, 100.0), "mg", 4),
    Drug("dexamethasone", ("iv", "po"), (4.0, 10.0), "mg", 4),
    Drug("gabapentin", ("po",), (100.0, 300.0, 600.0), "mg", 5),
    Drug("levothyroxine sodium", ("po",), (25.0, 50.0, 75.0, 100.0), "mcg", 6),
    Drug("fentanyl citrate", ("iv",), (25.0, 50.0, 100.0), "mcg", 8),
    Drug("propofol", ("iv",), (10.0, 20.0), "mg", 6),
    Drug("midazolam", ("iv",), (1.0, 2.0), "mg", 5),
    Drug("norepinephrine", ("iv",), (4.0, 8.0), "mg", 5),
    Drug("calcium gluconate", ("iv",), (1.0, 2.0), "gm", 6),
    Drug("lactulose", ("po", "pr", "ng"), (15.0, 30.0), "ml", 4),
    Drug("bisacodyl", ("pr", "po"), (5.0, 10.0), "mg", 8),
    Drug("tamsulosin", ("po",), (0.4,), "mg", 3),
    Drug("metformin", ("po",), (500.0, 850.0, 1000.0), "mg", 4),
    Drug("glucagon", ("im", "iv"), (1.0,), "mg", 3),
    Drug("zolpidem tartrate", ("po",), (5.0, 10.0), "mg", 4),
    Drug("oxycodone (immediate release)", ("po",), (5.0, 10.0), "mg", 7),
    Drug("hydromorphone (dilaudid)", ("iv", "po"), (0.5, 1.0, 2.0), "mg", 6),
    Drug("nicotine patch", ("td",), (14.0, 21.0), "mg", 3),
    Drug("enoxaparin sodium", ("sc",), (40.0, 60.0, 80.0), "mg", 5),
    Drug("diltiazem", ("po", "iv"), (30.0, 60.0), "mg", 4),
    Drug("labetalol", ("iv", "po"), (10.0, 20.0, 100.0), "mg", 3),
)


def _lab(
    itemid: int, label: str, fluid: str, category: str, unit: str, normal: tuple[float, float], sd: float,
    decimals: int, lo: float = 0.0, hi: float = 1e4,
) -> LabItem:
    mean = (normal[0] + normal[1]) / 2
    return LabItem(Measure(itemid, label, unit, mean, sd, lo, hi, decimals), fluid, category, normal)


LAB_ITEMS: tuple[LabItem, ...] = (
    _lab(50912, "creatinine", "blood", "chemistry", "mg/dl", (0.5, 1.2), 0.6, 1, 0.2, 12.0),
    _lab(50971, "potassium", "blood", "chemistry", "meq/l", (3.3, 5.1), 0.5, 1, 2.0, 7.5),
    _lab(50983, "sodium", "blood", "chemistry", "meq/l", (133.0, 145.0), 4.0, 0, 115.0, 160.0),
    _lab(50902, "chloride", "blood", "chemistry", "meq/l", (96.0, 108.0), 4.0, 0, 80.0, 125.0),
    _lab(50882, "bicarbonate", "blood", "chemistry", "meq/l", (22.0, 32.0), 4.0, 0, 8.0, 45.0),
    _lab(51006, "urea nitrogen", "blood", "chemistry", "mg/dl", (6.0, 20.0), 12.0, 0, 2.0, 150.0),
    _lab(50931, "glucose", "blood", "chemistry", "mg/dl", (70.0, 100.0), 40.0, 0, 30.0, 600.0),
    _lab(50960, "magnesium", "blood", "chemistry", "mg/dl", (1.6, 2.6), 0.3, 1, 0.8, 4.5),
    _lab(50893, "calcium, total", "blood", "chemistry", "mg/dl", (8.4, 10.3), 0.7, 1, 5.5, 13.0),
    _lab(50970, "phosphate", "blood", "chemistry", "mg/dl", (2.7, 4.5), 0.9, 1, 0.8, 10.0),
    _lab(50868, "anion gap", "blood", "chemistry", "meq/l", (8.0, 20.0), 3.0, 0, 3.0, 35.0),
    _lab(50862, "albumin", "blood", "chemistry", "g/dl", (3.4, 4.8), 0.6, 1, 1.2, 5.5),
    _lab(50885, "bilirubin, total", "blood", "chemistry", "mg/dl", (0.0, 1.5), 1.2, 1, 0.1, 25.0),
    _lab(50861, "alanine aminotransferase (alt)", "blood", "chemistry", "iu/l", (0.0, 40.0), 40.0, 0,
         4.0, 900.0),
    _lab(50878, "asparate aminotransferase (ast)", "blood", "chemistry", "iu/l", (0.0, 40.0), 45.0, 0,
         5.0, 900.0),
    _lab(51221, "hematocrit", "blood", "hematology", "%", (36.0, 48.0), 5.0, 1, 15.0, 60.0),
    _lab(51222, "hemoglobin", "blood", "hematology", "g/dl", (12.0, 16.0), 1.8, 1, 5.0, 20.0),
    _lab(51301, "white blood cells", "blood", "hematology", "k/ul", (4.0, 11.0), 4.0, 1, 0.5, 60.0),
    _lab(51265, "platelet count", "blood", "hematology", "k/ul", (150.0, 440.0), 90.0, 0, 8.0, 900.0),
    _lab(51279, "red blood cells", "blood", "hematology", "m/ul", (4.2, 5.4), 0.6, 2, 1.8, 7.0),
    _lab(51237, "inr(pt)", "blood", "hematology", "ratio", (0.9, 1.1), 0.5, 1, 0.8, 8.0),
    _lab(51275, "ptt", "blood", "hematology", "sec", (22.0, 35.0), 10.0, 1, 18.0, 150.0),
    _lab(50813, "lactate", "blood", "blood gas", "mmol/l", (0.5, 2.0), 1.0, 1, 0.3, 15.0),
    _lab(50820, "ph", "blood", "blood gas", "units", (7.35, 7.45), 0.06, 2, 6.9, 7.7),
    _lab(50818, "pco2", "blood", "blood gas", "mm hg", (35.0, 45.0), 8.0, 0, 15.0, 100.0),
    _lab(50821, "po2", "blood", "blood gas", "mm hg", (85.0, 105.0), 40.0, 0, 30.0, 500.0),
)

#: labs drawn in (almost) every admission; the rest are drawn at random
CORE_LABS = (
    "creatinine", "potassium", "sodium", "glucose", "hemoglobin", "white blood cells", "urea nitrogen",
)

CHART_ITEMS: tuple[Measure, ...] = (
    Measure(211, "heart rate", "bpm", 86.0, 16.0, 35.0, 180.0, 0),
    Measure(51, "arterial bp [systolic]", "mmhg", 120.0, 20.0, 60.0, 220.0, 0),
    Measure(8368, "arterial bp [diastolic]", "mmhg", 60.0, 12.0, 25.0, 130.0, 0),
    Measure(52, "arterial bp mean", "mmhg", 79.0, 13.0, 40.0, 150.0, 0),
    Measure(455, "nbp [systolic]", "mmhg", 122.0, 20.0, 60.0, 220.0, 0),
    Measure(8441, "nbp [diastolic]", "mmhg", 62.0, 12.0, 25.0, 130.0, 0),
    Measure(456, "nbp mean", "mmhg", 80.0, 13.0, 40.0, 150.0, 0),
    Measure(618, "respiratory rate", "bpm", 18.0, 5.0, 6.0, 45.0, 0),
    Measure(646, "sao2", "%", 96.5, 2.5, 78.0, 100.0, 0),
    Measure(676, "temperature c (calc)", "deg. c", 37.0, 0.6, 34.5, 40.5, 1),
    Measure(678, "temperature f", "deg. f", 98.6, 1.1, 94.0, 104.9, 1),
    Measure(113, "cvp", "mmhg", 10.0, 4.0, 0.0, 30.0, 0),
    Measure(198, "gcs total", "points", 13.0, 3.0, 3.0, 15.0, 0),
    Measure(807, "fingerstick glucose", "mg/dl", 135.0, 40.0, 40.0, 450.0, 0),
    Measure(762, "admit wt", "kg", 80.0, 18.0, 38.0, 190.0, 1),
    Measure(763, "daily weight", "kg", 80.0, 18.0, 38.0, 190.0, 1),
    Measure(920, "admit ht", "cm", 170.0, 10.0, 140.0, 205.0, 0),
)

#: chart items measured every few hours; the other items are measured once or daily
FREQUENT_CHART = ("heart rate", "arterial bp [systolic]", "arterial bp [diastolic]", "arterial bp mean",
                  "respiratory rate", "sao2", "temperature c (calc)")

INPUT_ITEMS: tuple[VolumeItem, ...] = (
    VolumeItem(30013, "d5w", 50.0, 500.0, 14),
    VolumeItem(30018, ".9% normal saline", 50.0, 1000.0, 20),
    VolumeItem(30056, "po intake", 60.0, 480.0, 14),
    VolumeItem(30021, "lactated ringers", 100.0, 1000.0, 8),
    VolumeItem(30001, "packed rbc's", 250.0, 350.0, 5),
    VolumeItem(30005, "fresh frozen plasma", 150.0, 300.0, 3),
    VolumeItem(30060, "d5ns", 50.0, 500.0, 4),
    VolumeItem(30131, "propofol", 5.0, 60.0, 6),
    VolumeItem(30045, "insulin", 1.0, 20.0, 7),
    VolumeItem(30090, "gastric meds", 10.0, 120.0, 6),
    VolumeItem(30089, "tube feeding", 20.0, 80.0, 5),
    VolumeItem(30315, "free water bolus", 50.0, 250.0, 4),
)

OUTPUT_ITEMS: tuple[VolumeItem, ...] = (
    VolumeItem(40055, "urine out foley", 20.0, 400.0, 30),
    VolumeItem(40069, "urine out void", 100.0, 600.0, 8),
    VolumeItem(40076, "ostomy (output)", 50.0, 400.0, 2),
    VolumeItem(40050, "chest tube #1", 10.0, 200.0, 3),
    VolumeItem(40056, "gastric tube", 20.0, 300.0, 3),
    VolumeItem(40085, "jackson pratt #1", 10.0, 150.0, 2),
    VolumeItem(40061, "stool out stool", 50.0, 500.0, 3),
    VolumeItem(40715, "urine out suprapubic", 50.0, 400.0, 1),
)

#: (specimen, relative frequency, chance that an organism grows)
SPECIMENS: tuple[tuple[str, int, float], ...] = (
    ("blood culture", 30, 0.15), ("urine", 28, 0.35), ("sputum", 12, 0.5), ("mrsa screen", 14, 0.1),
    ("swab", 6, 0.4), ("catheter tip-iv", 4, 0.3), ("stool", 6, 0.2), ("bronchoalveolar lavage", 4, 0.5),
    ("pleural fluid", 2, 0.2), ("peritoneal fluid", 2, 0.25), ("csf;spinal fluid", 2, 0.1),
)

ORGANISMS: tuple[str, ...] = (
    "escherichia coli", "staph aureus coag +", "klebsiella pneumoniae", "pseudomonas aeruginosa",
    "enterococcus sp.", "staphylococcus, coagulase negative", "yeast", "proteus mirabilis",
    "enterobacter cloacae", "clostridium difficile", "serratia marcescens", "gram positive bacteria",
)

#: care unit -> ward ids of that unit
CAREUNITS: dict[str, tuple[int, ...]] = {
    "micu": (12, 50, 52), "sicu": (33, 57), "ccu": (7, 14), "csru": (14, 15), "tsicu": (23, 2),
}
GENERAL_WARDS: tuple[int, ...] = (3, 6, 29, 36, 45, 55)

ADMISSION_TYPES: tuple[tuple[str, int], ...] = (("emergency", 72), ("elective", 17), ("urgent", 11))
ADMISSION_LOCATIONS: tuple[tuple[str, int], ...] = (
    ("emergency room admit", 48), ("phys referral/normal deli", 22), ("transfer from hosp/extram", 16),
    ("clinic referral/premature", 11), ("transfer from skilled nur", 3),
)
DISCHARGE_LOCATIONS: tuple[tuple[str, int], ...] = (
    ("home", 38), ("home health care", 26), ("snf", 18), ("rehab/distinct part hosp", 10),
    ("long term care hospital", 4), ("short term hospital", 4),
)
INSURANCES: tuple[tuple[str, int], ...] = (
    ("medicare", 48), ("private", 32), ("medicaid", 11), ("government", 4), ("self pay", 5),
)
ETHNICITIES: tuple[tuple[str, int], ...] = (
    ("white", 68), ("black/african american", 10), ("hispanic or latino", 4), ("asian", 4),
    ("unknown/not specified", 10), ("other", 4),
)
MARITAL_STATUSES: tuple[tuple[str, int], ...] = (
    ("married", 45), ("single", 28), ("widowed", 13), ("divorced", 7), ("separated", 2), ("", 5),
)
LANGUAGES: tuple[tuple[str, int], ...] = (("engl", 80), ("span", 6), ("port", 3), ("russ", 2), ("", 9))
