"""Verifiers: exact rules, every upstream grading trick rejected, no ground-truth leaks."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.keys import (
    AnswerKey,
    BooleanKey,
    DateKey,
    GestationalAgeKey,
    IntegerKey,
    ItemSetKey,
    RangeKey,
    RelativeKey,
    TextKey,
    UnscorableKey,
)
from scoring.score import AnswerValue, Scalar, Score
from scoring.verify import verify

DATA = Path(__file__).resolve().parents[2] / "shared" / "medagentgym"
TRICKS = ("1", "0", "0123456789")


def accepted(key: AnswerKey, answer: AnswerValue) -> bool:
    """Whether the verifier marks the answer correct (a format error is not correct)."""
    try:
        return verify(key, answer).correct
    except AnswerFormatError:
        return False


def message(key: AnswerKey, answer: AnswerValue) -> str:
    """The feedback, or the format error's message: everything the agent would read."""
    try:
        return verify(key, answer).feedback
    except AnswerFormatError as error:
        return str(error)


def assert_score(score: Score, correct: bool, verifier: str) -> None:
    assert score.correct is correct
    assert score.score == (1.0 if correct else 0.0)
    assert score.verifier == verifier
    assert score.error is None
    assert score.feedback


# --- MedCalcBench numbers ------------------------------------------------------------------------

CREATININE = RangeKey(lower=35.3875, upper=39.1125)  # ground truth 37.25


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        (CREATININE, 37.25),
        (CREATININE, 37),
        (CREATININE, "37.25"),
        (CREATININE, "  +37.0 "),
        (CREATININE, "3.725e1"),
        (CREATININE, [37.25]),
        (CREATININE, ["37.25"]),
        (CREATININE, 35.3875),
        (CREATININE, 39.1125),
        (CREATININE, 0.95 * 37.25),  # the bound as computed in floating point
        (RangeKey(lower=39.1125, upper=35.3875), 37.25),  # bounds given reversed
        (RangeKey(lower=-1, upper=-1), -1),
        (RangeKey(lower=-1, upper=-1), "-1"),
        (RangeKey(lower=-1, upper=-1), "\u22121"),
        (RangeKey(lower=-79.8, upper=-72.2), -76),
        (RangeKey(lower=-79.8, upper=-72.2), "-76.0"),
        (RangeKey(lower=-72.2, upper=-79.8), -76),
        (RangeKey(lower=0, upper=0), 0),
        (RangeKey(lower=0, upper=0), "-0"),
        (RangeKey(lower=1234, upper=1235), "1,234.5"),
        (RangeKey(lower=1e6, upper=2e6), "1,500,000"),
    ],
)
def test_range_accepts(key: RangeKey, answer: AnswerValue) -> None:
    assert_score(verify(key, answer), True, "medcalc_range")


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        (CREATININE, "1"),  # upstream: the constant 1 passed 987 of 1047 tasks
        (CREATININE, "0"),
        (CREATININE, 1),
        (CREATININE, "0123456789"),  # a number string (123456789), outside the range
        (CREATININE, 37.25 * 1.5),  # upstream `>= 0.95*pred or <= 1.05*pred` accepted anything
        (CREATININE, 37.25 * 0.5),
        (CREATININE, 35.38),
        (CREATININE, 39.12),
        (CREATININE, -37.25),
        (CREATININE, "137.25"),
        (RangeKey(lower=-1, upper=-1), 1),
        (RangeKey(lower=-1, upper=-1), 0),
        (RangeKey(lower=-79.8, upper=-72.2), 76),
        (RangeKey(lower=-79.8, upper=-72.2), -76 * 1.5),
    ],
)
def test_range_rejects(key: RangeKey, answer: AnswerValue) -> None:
    score = verify(key, answer)
    assert_score(score, False, "medcalc_range")
    assert score.feedback.startswith("expected a number within the accepted range; got ")


@pytest.mark.parametrize(
    "answer",
    [
        True,
        False,
        None,
        "",
        "   ",
        "about 12",
        "12 mL/min",
        "37.25 mL/min",
        "~37",
        "1,5",
        "12,34",
        "1,2345",
        "1 2",
        "0x10",
        "1_000",
        "\u0661\u0662",  # Arabic-Indic digits
        "37.25%",
        "nan",
        "inf",
        math.nan,
        math.inf,
        -math.inf,
        "1e999",
        [],
        [37, 38],
        [True],
        "[37.25]",
    ],
)
def test_range_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError, match="number"):
        verify(CREATININE, answer)


# --- MedCalcBench dates and gestational ages -----------------------------------------------------

DUE = DateKey(date="2006-03-21")


@pytest.mark.parametrize("answer", ["03/21/2006", "3/21/2006", " 03/21/2006 ", "2006-03-21", ["03/21/2006"]])
def test_date_accepts(answer: AnswerValue) -> None:
    assert_score(verify(DUE, answer), True, "date")


@pytest.mark.parametrize("answer", ["03/22/2006", "2006-03-20", "03/21/2007", "12/03/2006", "01/01/1970"])
def test_date_rejects(answer: AnswerValue) -> None:
    score = verify(DUE, answer)
    assert_score(score, False, "date")
    assert score.feedback.startswith("expected the same calendar date; got ")


@pytest.mark.parametrize(
    "answer",
    [
        *TRICKS,
        1,
        True,
        None,
        "March 21, 2006",
        "2006/03/21",
        "03-21-2006",
        "20060321",
        "2006-3-21",
        "21/03/2006",  # read as month 21: not a calendar date
        "02/30/2006",
        "2006-03-21 00:00:00",
        "03/21/06",
        ["03/21/2006", "03/22/2006"],
    ],
)
def test_date_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError, match="MM/DD/YYYY"):
        verify(DUE, answer)


AGE = GestationalAgeKey(weeks=35, days=4)


@pytest.mark.parametrize(
    "answer",
    [
        "('35 weeks', '4 days')",
        '("35 weeks", "4 days")',
        "35 weeks 4 days",
        "35 weeks, 4 days",
        "35 Weeks and 4 Days",
        "35 week 4 day",
        "35w4d",
        "35w 4d",
        "35 wks 4 d",
        "35+4",
        "35 + 4",
        "(35, 4)",
        "[35, 4]",
        ["35 weeks", "4 days"],
        [35, 4],
        ["35", "4"],
        ["35 weeks 4 days"],
    ],
)
def test_gestational_age_accepts(answer: AnswerValue) -> None:
    assert_score(verify(AGE, answer), True, "gestational_age")


def test_gestational_age_compares_weeks_and_days_as_documented() -> None:
    assert verify(GestationalAgeKey(weeks=1, days=1), "1 weeks 1 days").correct
    assert not verify(GestationalAgeKey(weeks=1, days=1), "0 weeks 8 days").correct  # the same total days


@pytest.mark.parametrize(
    "answer", ["35 weeks 5 days", "36 weeks 4 days", "4 weeks 35 days", "(4, 35)", [35, 3], "34 weeks 11 days"]
)
def test_gestational_age_rejects(answer: AnswerValue) -> None:
    score = verify(AGE, answer)
    assert_score(score, False, "gestational_age")
    assert score.feedback.startswith("expected the same gestational age; got ")


@pytest.mark.parametrize(
    "answer",
    [
        *TRICKS,
        1,
        35,
        True,
        None,
        "35 weeks",
        "35.5 weeks 4 days",
        "-35 weeks 4 days",
        "thirty-five weeks",
        [35],
        [35, 4, 1],
        [35.0, 4.0],
        [True, 4],
    ],
)
def test_gestational_age_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError, match="weeks and days"):
        verify(AGE, answer)


# --- N-PowerAI -----------------------------------------------------------------------------------

SIZE = IntegerKey(value=120)


@pytest.mark.parametrize("answer", [120, 120.0, "120", "120.0", " 120 ", "1.2e2", "+120", [120]])
def test_integer_accepts(answer: AnswerValue) -> None:
    assert_score(verify(SIZE, answer), True, "integer_exact")


@pytest.mark.parametrize("answer", [120.5, "120.5", 121, 119, 180, 0, 1, *TRICKS, -120, 120.000001])
def test_integer_rejects(answer: AnswerValue) -> None:
    assert_score(verify(SIZE, answer), False, "integer_exact")


@pytest.mark.parametrize("answer", [True, None, "120 participants", "n=120", "120/group", [120, 121]])
def test_integer_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError):
        verify(SIZE, answer)


POWER = RelativeKey(value=0.85)


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        (POWER, 0.85),
        (POWER, "0.85"),
        (POWER, 0.8585),
        (POWER, 0.8415),
        (POWER, "85%"),
        (POWER, "85 %"),
        (POWER, "85.5%"),
        (RelativeKey(value=1.0), 0.99),
        (RelativeKey(value=1.0), 1.01),
        (RelativeKey(value=1.0), 1),
        (RelativeKey(value=1.0), "100%"),
        (RelativeKey(value=0.0), 0.005),
        (RelativeKey(value=0.0), -0.01),
        (RelativeKey(value=-0.5), -0.504),
    ],
)
def test_relative_accepts(key: RelativeKey, answer: AnswerValue) -> None:
    assert_score(verify(key, answer), True, "relative_tolerance")


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        (POWER, 0.86),
        (POWER, 0.84),
        (POWER, 85),  # a percentage must be written with "%"
        (POWER, "87%"),
        (POWER, 0.85 * 1.5),
        (POWER, "1"),
        (POWER, "0"),
        (POWER, "0123456789"),
        (RelativeKey(value=1.0), 1.0101),
        (RelativeKey(value=1.0), 0.9899),
        (RelativeKey(value=0.0), 0.02),
        (RelativeKey(value=-0.5), 0.5),
    ],
)
def test_relative_rejects(key: RelativeKey, answer: AnswerValue) -> None:
    score = verify(key, answer)
    assert_score(score, False, "relative_tolerance")
    assert score.feedback.startswith("expected a number within 1% of the answer; got ")


@pytest.mark.parametrize("answer", [True, None, "85 percent", "%", "0.85 power", [0.85, 0.86]])
def test_relative_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError):
        verify(POWER, answer)


# --- EHR question answering (item sets) ----------------------------------------------------------

ROUTES = ItemSetKey(items=["po", "po/ng"])
NO_RESULT = ItemSetKey(items=["None"])


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        (ROUTES, ["po", "po/ng"]),
        (ROUTES, ["PO/NG", " po "]),
        (ROUTES, ["po", "po/ng", "po"]),
        (ROUTES, "['po', 'po/ng']"),
        (ROUTES, '["po", "po/ng"]'),
        (ROUTES, " [('po',), ('po/ng',)] "),  # rows are flattened
        (NO_RESULT, "None"),
        (NO_RESULT, ["None"]),
        (NO_RESULT, []),
        (NO_RESULT, None),
        (NO_RESULT, [None]),
        (NO_RESULT, "null"),
        (NO_RESULT, ""),
        (NO_RESULT, "[]"),
        (NO_RESULT, "[null]"),
        (NO_RESULT, math.nan),
        (ItemSetKey(items=["M", "None"]), ["m", None]),
        (ItemSetKey(items=["M", "None"]), "[('M', None)]"),
        (ItemSetKey(items=["72.30000305175781"]), 72.3),
        (ItemSetKey(items=["72.30000305175781"]), "72.3"),
        (ItemSetKey(items=["72.30000305175781"]), "7.23e1"),
        (ItemSetKey(items=["72.30000305175781"]), [72.30001]),
        (ItemSetKey(items=["0.8487654320987654"]), 0.84877),
        (ItemSetKey(items=["0.0000001"]), 0.0000005),  # absolute tolerance 1e-6 near zero
        (ItemSetKey(items=["-351"]), -351),
        (ItemSetKey(items=["-351"]), "-351.0"),
        (ItemSetKey(items=["92"]), 92.0),
        (ItemSetKey(items=["1e3"]), 1000),
        (ItemSetKey(items=["72", "72"]), "72"),
        (ItemSetKey(items=["1"]), True),
        (ItemSetKey(items=["1"]), "true"),
        (ItemSetKey(items=["0"]), False),
        (ItemSetKey(items=["0"]), "FALSE"),
        (ItemSetKey(items=["True"]), 1),
        (ItemSetKey(items=["2054-09-25 00:00:00"]), "2054-09-25"),
        (ItemSetKey(items=["2054-09-25 00:00:00"]), "2054-09-25T00:00:00"),
        (ItemSetKey(items=["2054-09-25 00:00:00"]), "2054-09-25 00:00"),
        (ItemSetKey(items=["2105-12-18 14:09:00"]), ["2105-12-18T14:09"]),
        (ItemSetKey(items=["0389"]), "0389"),
        (ItemSetKey(items=["016-35481", "030-47098"]), ["030-47098", "016-35481"]),
        (ItemSetKey(items=["2182-04-24 21:20:00", "Circumcision"]), ["circumcision", "2182-04-24 21:20:00"]),
    ],
)
def test_item_set_accepts(key: ItemSetKey, answer: AnswerValue) -> None:
    assert_score(verify(key, answer), True, "item_set")


@pytest.mark.parametrize(
    ("key", "answer"),
    [
        (ItemSetKey(items=["10"]), "1"),  # upstream substring matching
        (ItemSetKey(items=["1"]), "10"),  # superstring
        (ItemSetKey(items=["1"]), "0123456789"),
        (ItemSetKey(items=["123456789"]), "0123456789"),
        (ItemSetKey(items=["pomegranate"]), "po"),
        (ItemSetKey(items=["po"]), "pomegranate"),
        (ROUTES, "po"),  # upstream checked only the first item
        (ROUTES, ["po"]),
        (ROUTES, ["po", "po/ng", "iv"]),
        (ROUTES, "po, po/ng"),  # a comma-separated string is one item
        (ROUTES, "['po', 'po/ng'"),  # not a list literal (no closing bracket): one text item
        (ROUTES, "1"),
        (ROUTES, "0"),
        (ROUTES, []),
        (ROUTES, None),
        (NO_RESULT, "0"),
        (NO_RESULT, 0),
        (NO_RESULT, "none of them"),
        (NO_RESULT, ["None", "po"]),
        (ItemSetKey(items=["M", "None"]), ["M"]),
        (ItemSetKey(items=["-351"]), -351.01),
        (ItemSetKey(items=["-351"]), 351),
        (ItemSetKey(items=["92"]), 92.0001),  # an integer answer is matched exactly
        (ItemSetKey(items=["43330"]), 43334),  # within 1e-4 relative, but an integer
        (ItemSetKey(items=["72.30000305175781"]), 72.31),
        (ItemSetKey(items=["72.30000305175781"]), 72.3 * 1.5),
        (ItemSetKey(items=["0.5"]), 1),
        (ItemSetKey(items=["1"]), "yes"),
        (ItemSetKey(items=["2054-09-25 00:00:00"]), "2054-09-26"),
        (ItemSetKey(items=["2054-09-25 00:00:00"]), "2054-09-25 00:00:01"),
        (ItemSetKey(items=["2054-09-25 00:00:00"]), "2054-09"),
        (ItemSetKey(items=["0389"]), 389),  # leading-zero codes are text
        (ItemSetKey(items=["389"]), "0389"),
    ],
)
def test_item_set_rejects(key: ItemSetKey, answer: AnswerValue) -> None:
    score = verify(key, answer)
    assert_score(score, False, "item_set")
    assert score.feedback == "the submitted set differs from the expected answer"


def test_item_set_feedback_is_no_membership_oracle() -> None:
    """Counts of wrong or missing items would let an agent find the answer item by item across resets."""
    feedbacks = {verify(ROUTES, answer).feedback for answer in (["po", "po/ng", "iv"], ["po"], ["iv", "im", "po"],
                                                                 ["iv"], ["po", "po/ng", "x", "y"])}
    assert feedbacks == {"the submitted set differs from the expected answer"}


@pytest.mark.parametrize(
    "answer",
    ["[po, po/ng]", "[{'a': 1}]", "[[[['deep']]]]", "[1+2j]", [str(i) for i in range(10_001)]],
)
def test_item_set_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError):
        verify(ROUTES, answer)


def test_item_set_text_with_one_bracket_is_text() -> None:
    assert verify(ItemSetKey(items=["[po"]), "[PO").correct


# --- EHRCon, text, unscorable, crashes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        (" Yes ", True),
        ("no", False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ([True], True),
        (1.0, True),
    ],
)
def test_boolean_reads(answer: AnswerValue, value: bool) -> None:
    assert_score(verify(BooleanKey(value=value), answer), True, "boolean")
    assert_score(verify(BooleanKey(value=not value), answer), False, "boolean")


@pytest.mark.parametrize(
    "answer", ["maybe", "", None, 2, -1, "0123456789", "t", "y", "true false", [True, False], []]
)
def test_boolean_format_errors(answer: AnswerValue) -> None:
    with pytest.raises(AnswerFormatError, match="boolean"):
        verify(BooleanKey(value=True), answer)


def test_text() -> None:
    key = TextKey(accepted=["S6534", "s6534 "])
    assert_score(verify(key, "  s6534"), True, "text")
    assert_score(verify(key, "S653"), False, "text")
    assert_score(verify(key, "S65345"), False, "text")
    assert verify(TextKey(accepted=["42"]), 42).correct
    with pytest.raises(AnswerFormatError):
        verify(key, None)


def test_unscorable_raises_with_reason() -> None:
    with pytest.raises(TaskNotScorableError, match="needs the FHIR server"):
        verify(UnscorableKey(reason="needs the FHIR server"), "anything")


def test_a_broken_key_crashes_instead_of_scoring_wrong() -> None:
    with pytest.raises(ValueError) as raised:
        verify(DateKey(date="not a date"), "03/21/2006")
    assert not isinstance(raised.value, AnswerFormatError)


# --- Feedback never reveals the expected answer --------------------------------------------------


def _number_variants(value: float) -> set[str]:
    forms = {str(value), repr(value), f"{value:g}", f"{value:,}"}
    forms |= {f"{value:.{places}f}" for places in (1, 2, 3)}
    return forms | {form.lstrip("-") for form in forms}


LEAK_CASES: list[tuple[AnswerKey, set[str], list[AnswerValue]]] = [
    (
        RangeKey(lower=35.3875, upper=39.1125),
        _number_variants(35.3875) | _number_variants(39.1125) | _number_variants(37.25),
        [37.25, 35.3875, 40.0, 30, "1", "0", "0123456789", "about 37", True, None, [1, 2], "nan"],
    ),
    (
        RangeKey(lower=-79.8, upper=-72.2),
        _number_variants(-79.8) | _number_variants(-72.2) | _number_variants(-76.0),
        [-76, 76, -114, "1", "-76 mmol/L", math.inf],
    ),
    (
        DateKey(date="2031-07-19"),
        {"2031-07-19", "07/19/2031", "7/19/2031", "2031", "July"},
        ["07/19/2031", "2031-07-19", "07/20/2030", "1", "19/07/2031", "July 19, 2031", None],
    ),
    (
        GestationalAgeKey(weeks=23, days=6),
        {"23", "6 days", "23w", "23 weeks", "(23, 6)", "167"},
        ["23 weeks 6 days", "24w", "22+1", [22, 1], "0", "1", "0123456789"],
    ),
    (
        IntegerKey(value=4817),
        _number_variants(4817) | {"4817"},
        [4817, 4817.5, 4818, "1", "0", "0123456789", "4817 patients", True],
    ),
    (
        RelativeKey(value=0.8731),
        _number_variants(0.8731) | {"87.31", "87.3%", "0.864", "0.882"},
        [0.8731, 0.5, "50%", "1", "0", "0123456789", "high"],
    ),
    (
        ItemSetKey(items=["phenylephrine", "82.615", "2101-03-07 11:45:00"]),
        {
            "phenylephrine",
            "82.615",
            "82.6",
            "2101-03-07",
            "11:45",
            "3 items",
            "3 expected",
            "1 item is missing",
        },
        [
            ["phenylephrine", "82.615", "2101-03-07 11:45:00"],
            ["phenyl", "82"],
            ["phenylephrine"],
            "1",
            "0123456789",
            [],
            "[bad",
            "[bad]",
        ],
    ),
    (
        TextKey(accepted=["8675309-mrn"]),
        {"8675309", "mrn"},
        ["8675309-MRN", "8675309", "S123", None],
    ),
]


@pytest.mark.parametrize(("key", "secrets", "answers"), LEAK_CASES)
def test_feedback_never_contains_the_expected_value(
    key: AnswerKey, secrets: set[str], answers: list[AnswerValue]
) -> None:
    for answer in answers:
        text = message(key, answer).casefold()
        echoed = str(answer).casefold()
        for secret in secrets:
            if secret.casefold() not in echoed:  # an echo of the agent's own submission is not a leak
                assert secret.casefold() not in text, (key, answer, secret, text)


# --- Property loops over the real public records -------------------------------------------------

_NUMERIC = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_US = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_GA = re.compile(r"\('([0-9]+) weeks', '([0-9]+) days'\)")


def _records(dataset: str, split: str) -> list[dict[str, Any]]:
    path = DATA / dataset / split
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


class Tally:
    """Counts checks and the tricks that are legitimately the answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checks = 0
        self.coincidences: Counter[str] = Counter()

    def correct(self, key: AnswerKey, answer: AnswerValue) -> None:
        self.checks += 1
        assert verify(key, answer).correct, (key, answer)

    def trick(self, key: AnswerKey, answer: AnswerValue, legitimate: bool, label: str) -> None:
        self.checks += 1
        assert accepted(key, answer) is legitimate, (key, answer, label)
        if legitimate:
            self.coincidences[label] += 1

    def report(self) -> None:
        print(f"\n{self.name}: {self.checks} checks; legitimate coincidences: {dict(self.coincidences)}")


def _no_leak(key: AnswerKey, answer: AnswerValue, secrets: list[str]) -> None:
    text = message(key, answer)
    for secret in secrets:
        if len(secret) >= 3 and secret not in str(answer):
            assert secret not in text, (key, answer, secret)


def _medcalc_key(record: dict[str, Any]) -> AnswerKey:
    truth = str(record["Ground Truth Answer"])
    if match := _US.fullmatch(truth):
        month, day, year = (int(group) for group in match.groups())
        return DateKey(date=date(year, month, day).isoformat())
    if match := _GA.fullmatch(truth):
        return GestationalAgeKey(weeks=int(match[1]), days=int(match[2]))
    return RangeKey(lower=float(record["Lower Limit"]), upper=float(record["Upper Limit"]))


def _medcalc_checks(tally: Tally, key: AnswerKey, truth: str) -> Iterator[AnswerValue]:
    """Checks one record; yields every trick submitted (for the leak check)."""
    answers: list[AnswerValue] = [truth, [truth], f" {truth} "]
    for answer in answers:
        tally.correct(key, answer)
    if isinstance(key, RangeKey):
        low, high = sorted((key.lower, key.upper))
        tally.correct(key, float(truth))
        tricks: list[tuple[str, AnswerValue]] = [(t, t) for t in TRICKS]
        tricks += [("x1.5", float(truth) * 1.5), ("prefix 1", "1" + truth.lstrip("-"))]
        for label, trick in tricks:
            value = float(str(trick))
            tally.trick(key, trick, low <= value <= high, label)
            yield trick
    else:
        shifted: AnswerValue
        if isinstance(key, DateKey):
            day = date.fromisoformat(key.date)
            tally.correct(key, key.date)
            shifted = (day + timedelta(days=1)).strftime("%m/%d/%Y")
        else:
            assert isinstance(key, GestationalAgeKey)
            tally.correct(key, f"{key.weeks} weeks {key.days} days")
            tally.correct(key, [key.weeks, key.days])
            shifted = [key.weeks, key.days + 1]
        for trick in (*TRICKS, shifted):
            tally.trick(key, trick, False, "date/age")
            yield trick


def test_medcalcbench_records() -> None:
    tally = Tally("medcalcbench")
    for record in _records("medcalcbench", "test_tasks.jsonl"):
        key = _medcalc_key(record)
        truth = str(record["Ground Truth Answer"])
        secrets = [truth, str(record["Lower Limit"]), str(record["Upper Limit"])]
        for trick in _medcalc_checks(tally, key, truth):
            _no_leak(key, trick, secrets)
    tally.report()
    assert tally.checks > 1000


def test_npowerai_records() -> None:
    tally = Tally("npowerai")
    for record in _records("npowerai", "train_tasks.jsonl"):
        truth = record["answer"]
        if record["estimate_target"] == "size":
            size = IntegerKey(value=int(truth))
            for answer in (truth, float(truth), str(truth), f"{truth}.0", [truth]):
                tally.correct(size, answer)
            for label, trick in [*((t, t) for t in TRICKS), ("x1.5", truth * 1.5), ("+1", truth + 1)]:
                tally.trick(size, trick, float(trick) == truth, label)
                _no_leak(size, trick, [str(truth)])
        else:
            power = RelativeKey(value=float(truth), rel_tol=0.01)
            for answer in (truth, str(truth), f"{truth * 100}%", [truth]):
                tally.correct(power, answer)
            for label, trick in [*((t, t) for t in TRICKS), ("x1.5", truth * 1.5), ("-0.02", truth - 0.02)]:
                legitimate = abs(float(trick) - truth) <= (0.01 * abs(truth) if truth else 0.01)
                tally.trick(power, trick, legitimate, label)
    tally.report()
    assert tally.checks > 5000


def _plain(item: str) -> tuple[str, object]:
    """A deliberately simple reading of an item, for deciding whether a trick is the answer."""
    text = item.strip().casefold()
    if text in ("none", ""):
        return ("null", None)
    if _NUMERIC.fullmatch(text) and not re.fullmatch(r"-?0[0-9]+", text):
        return ("number", float(text))
    return ("text", text)


def _as_numbers(items: list[str]) -> list[Scalar] | None:
    """The items as floats when every one is a plain number (leading-zero codes are not)."""
    plain = [_plain(item) for item in items]
    if all(kind == "number" for kind, _ in plain):
        return [float(str(value)) for _, value in plain]
    return None


def _ehr_correct(tally: Tally, key: ItemSetKey, items: list[str]) -> None:
    answers: list[AnswerValue] = [list(items), list(reversed(items)), json.dumps(items), str(items)]
    answers.append([item.upper() for item in items])
    if len(items) == 1:
        answers.append(items[0])
    if (numbers := _as_numbers(items)) is not None:
        answers.append(numbers)
    for answer in answers:
        tally.correct(key, answer)


def _ehr_tricks(items: list[str]) -> Iterator[tuple[str, AnswerValue, bool]]:
    """(label, trick, legitimate): a trick is legitimate only when it genuinely is the answer."""
    expected = {_plain(item) for item in items}
    for constant in TRICKS:
        yield constant, constant, expected == {_plain(constant)}
    if len(items) > 1:
        yield "first item only", items[0], expected == {_plain(items[0])}
    yield "extra item", [*items, "zz-not-an-answer"], False
    yield "superstring", ["1" + item for item in items], False
    texts = [item for item in items if _plain(item)[0] == "text" and len(item.strip()) > 1]
    if texts:
        yield "substring", texts[0].strip()[: len(texts[0].strip()) // 2], False
    if len(expected) == 1 and (only := next(iter(expected)))[0] == "number":
        value = float(str(only[1]))
        yield "x1.5", value * 1.5, value == 0
    if expected != {("null", None)}:
        yield "empty", [], False


@pytest.mark.parametrize("dataset", ["mimic_iii", "eicu", "treqs"])
def test_ehr_records(dataset: str) -> None:
    tally = Tally(dataset)
    for record in _records(dataset, "train_tasks.jsonl"):
        items = [str(item) for item in record["answer"]]
        key = ItemSetKey(items=items)
        _ehr_correct(tally, key, items)
        for label, trick, legitimate in _ehr_tricks(items):
            tally.trick(key, trick, legitimate, label)
            _no_leak(key, trick, items)
    tally.report()
    assert tally.checks > 3000


def test_ehrcon_records() -> None:
    tally = Tally("ehrcon")
    for record in _records("ehrcon", "train_tasks.jsonl"):
        truth = record["Has error"]
        key = BooleanKey(value=truth)
        for answer in (truth, str(truth), str(truth).upper(), "yes" if truth else "no", int(truth)):
            tally.correct(key, answer)
        tally.trick(key, not truth, False, "opposite")
        for constant in TRICKS:
            tally.trick(key, constant, constant == ("1" if truth else "0"), constant)
    tally.report()
    assert tally.checks > 5000
