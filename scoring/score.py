"""The verdict of a verifier and the errors a submission can raise."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# What `submit_answer` accepts: a string, a number, a boolean or a list of those.
Scalar = str | int | float | bool | None
AnswerValue = Scalar | list[Scalar]


class Score(BaseModel):
    """A typed verdict. `feedback` explains it without revealing the expected answer."""

    model_config = ConfigDict(frozen=True)

    correct: bool
    score: float = Field(ge=0.0, le=1.0)
    feedback: str
    verifier: str
    error: str | None = Field(None, description="set when the verifier itself failed (not a wrong answer)")
