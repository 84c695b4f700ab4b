"""The version of each verifier, so that every verdict says which grader made it.

One entry per verifier name (`scoring.verify.VERIFIER_NAMES`). Bump a verifier's version whenever a
change of its rule could turn a verdict (a new accepted form, a different tolerance, a fixed bug):
records and `medgym rescore` results carry `name` and `version`, so old and new verdicts can be
told apart and compared. Versions are plain increasing integers, as strings.
"""

from __future__ import annotations

VERIFIER_VERSIONS: dict[str, str] = {
    "medcalc_range": "1",
    "date": "1",
    "gestational_age": "1",
    "integer_exact": "1",
    "relative_tolerance": "1",
    "item_set": "1",
    "boolean": "1",
    "text": "1",
    "predictions_auroc": "1",
    "medagentbench_fhir": "1",
    "code_output": "1",
    "code_asserts": "1",
}


def verifier_version(name: str | None) -> str | None:
    """The version of the verifier called `name` (None for no verifier, or one without a version)."""
    return VERIFIER_VERSIONS.get(name) if name else None
