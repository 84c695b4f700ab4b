"""The error rules every scorer runs under in `submit_answer`: an answer of the wrong form is the
client's to fix and is not counted as an attempt; a scorer that crashes is medgym's failure, never a
wrong answer (reported as a `VerifierError`, not counted either)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from medgym.errors import AnswerFormatError, ClientError, TaskNotScorableError, VerifierError
from scoring.score import Score

log = logging.getLogger(__name__)

NOT_COUNTED = " (this submission was not counted as an attempt)"


def guarded(task_id: str, scorer_name: str, scorer: Callable[[], Score]) -> Score:
    """`scorer()` with those rules; `scorer_name` names it in the error ("the FHIR verifier")."""
    try:
        return scorer()
    except AnswerFormatError as exc:
        raise AnswerFormatError(f"{exc}{NOT_COUNTED}") from None
    except TaskNotScorableError as exc:
        raise TaskNotScorableError(f"this task cannot be scored here: {exc}") from None
    except ClientError:
        raise
    except Exception as exc:  # a scorer crash is an error, never a wrong answer
        log.error("%s crashed on %s: %s", scorer_name, task_id, type(exc).__name__)
        raise VerifierError(f"{scorer_name} failed on this submission (a medgym bug, not a wrong answer); "
                            "it was not counted as an attempt") from None
