"""Reading a submitted calendar date or gestational age (MedCalcBench)."""

from __future__ import annotations

import re
from datetime import date

from medgym.errors import AnswerFormatError
from scoring.numbers import show, single
from scoring.score import AnswerValue

DATE_FORMS = "a date as MM/DD/YYYY (M/D/YYYY also works) or YYYY-MM-DD"
GESTATION_FORMS = (
    'weeks and days as "W weeks D days", "W weeks, D days", "(\'W weeks\', \'D days\')", "WwDd", "W+D", '
    '"(W, D)", ["W weeks", "D days"] or [W, D], with whole numbers W and D'
)

_US_DATE = re.compile(r"(?P<month>[0-9]{1,2})/(?P<day>[0-9]{1,2})/(?P<year>[0-9]{4})")
_ISO_DATE = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")
_WRAPPING = re.compile(r"[()\[\]'\"]")
_WEEKS_DAYS = re.compile(
    r"(?P<weeks>[0-9]{1,4})\s*(?:weeks?|wks?|w)\s*(?:,|and)?\s*(?P<days>[0-9]{1,4})\s*(?:days?|d)",
    re.IGNORECASE,
)
_PAIR = re.compile(r"(?P<weeks>[0-9]{1,4})\s*[+,]\s*(?P<days>[0-9]{1,4})")


def parse_calendar_date(answer: AnswerValue) -> date:
    """The one calendar date submitted, or AnswerFormatError naming the accepted forms."""
    value = single(answer, DATE_FORMS)
    text = value.strip() if isinstance(value, str) else ""
    match = _US_DATE.fullmatch(text) or _ISO_DATE.fullmatch(text)
    if match is None:
        raise AnswerFormatError(f"expected {DATE_FORMS}; got {show(value)}")
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    try:
        return date(year, month, day)
    except ValueError:
        raise AnswerFormatError(f"expected a real calendar date ({DATE_FORMS}); got {show(value)}") from None


def parse_gestational_age(answer: AnswerValue) -> tuple[int, int]:
    """The submitted (weeks, days), or AnswerFormatError naming the accepted forms.

    A two-item list is read as its items joined by a comma ([35, 4] as "35, 4").
    """
    if isinstance(answer, list) and len(answer) == 2:
        text = ", ".join(str(item) for item in answer)
    else:
        value = single(answer, GESTATION_FORMS)
        text = value if isinstance(value, str) else ""
    bare = " ".join(_WRAPPING.sub(" ", text).split())
    match = _WEEKS_DAYS.fullmatch(bare) or _PAIR.fullmatch(bare)
    if match is None:
        raise AnswerFormatError(f"expected {GESTATION_FORMS}; got {show(text or repr(answer))}")
    return int(match["weeks"]), int(match["days"])
