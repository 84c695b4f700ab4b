"""medgym's one exception tree. Every error medgym raises on purpose is a `MedgymError`.

    MedgymError
    ├── ClientError              the caller (an agent, a client) can fix it: a tool error that says how
    │   ├── InvalidArgumentError     an argument value is not accepted (range, choice, shape)
    │   │   └── BadCursorError           a list_tasks cursor this server did not issue for these filters
    │   ├── UnknownTaskError         no task has this id (also a LookupError)
    │   ├── AnswerFormatError        the answer cannot be read as the task's kind (not counted as an attempt)
    │   ├── TaskNotScorableError     no verifier or ground truth for this task here (not counted)
    │   ├── EpisodeError             an unknown, finished or foreign episode, or a missing episode_id
    │   ├── SandboxFileError         a file named in the caller's sandbox is missing, not a regular file or too large
    │   ├── QuotaError               too many open episodes or running sandboxes for this client
    │   └── CatalogNotReadyError     the task catalog is still being built or indexed: try again shortly
    ├── ServiceError             medgym's own machinery failed, not the caller's input ("medgym server problem")
    │   ├── SandboxError             the sandbox could not run the code at all (also a RuntimeError)
    │   │   ├── SandboxUnavailableError  the engine cannot be reached or refuses to start a sandbox
    │   │   ├── SandboxLostError         the sandbox disappeared or stopped answering
    │   │   └── SandboxTimeoutError      the runner did not answer in time (also a TimeoutError)
    │   ├── VerifierError            a verifier crashed (recorded as an error, never as a wrong answer)
    │   ├── GraderError              a code grader failed through no fault of the submission (not counted)
    │   └── StoreError               the task or record store failed
    ├── ConfigurationError       the operator's configuration or command is wrong (settings, tokens, image)
    │   └── DataError                a data file or record cannot be read in its dataset's format
    └── ToolCallError            (scripted clients) a tool answered with an error; the message is what a model reads

Clients see `ClientError`s as tool errors with their message, and `ServiceError`s as tool errors
prefixed "medgym server problem (not caused by your input)". That translation happens in one
place: `mcp_server.registrar`. Messages say what to do next and never quote hidden material.
"""

from __future__ import annotations

# what every ServiceError's message (and any other failure of medgym's own) starts with, as clients see it
SERVER_PROBLEM = "medgym server problem (not caused by your input): "


class MedgymError(Exception):
    """Root of every error medgym raises on purpose."""


# -- errors the caller can fix ------------------------------------------------------------------
class ClientError(MedgymError, ValueError):
    """A mistake the caller can fix; the message says how."""


class InvalidArgumentError(ClientError):
    """An argument value is not accepted: out of range, not one of the choices, the wrong shape."""


class BadCursorError(InvalidArgumentError):
    """A `list_tasks` cursor that this store did not issue (or issued for other filters)."""


class UnknownTaskError(ClientError, LookupError):
    """No task has this id; the message says how to find valid ids."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown task"


class AnswerFormatError(ClientError):
    """The submission cannot be read as this task's kind of answer (never counted as an attempt).

    The message says what form is expected, never the expected value.
    """


class TaskNotScorableError(ClientError):
    """No verifier or ground truth can score this task on this server (the message says why)."""


class EpisodeError(ClientError):
    """An unknown, finished or foreign episode, or a call that needs an episode_id and has none."""


class SandboxFileError(ClientError):
    """A file the caller named in its sandbox cannot be read: `reason` is "missing", "not_a_file"
    (a folder, a device, a link out of /workspace), "outside" (not under /workspace) or "too_large"."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class QuotaError(ClientError):
    """This client has too many open episodes or running sandboxes; finish some first."""


class CatalogNotReadyError(ClientError):
    """The task catalog is still being built or indexed (the message says how far); try again shortly."""


# -- medgym's own failures ----------------------------------------------------------------------
class ServiceError(MedgymError, RuntimeError):
    """medgym's own machinery failed (not the caller's input)."""


class SandboxError(ServiceError):
    """The sandbox machinery failed to run the code at all (a non-zero exit is not an error)."""


class SandboxUnavailableError(SandboxError):
    """The container engine cannot be reached or refuses to start the sandbox."""


class SandboxLostError(SandboxError):
    """The sandbox disappeared or stopped answering (killed from outside, engine restarted)."""


class SandboxTimeoutError(SandboxError, TimeoutError):
    """The in-container runner did not answer within the run's timeout plus a grace period."""


class VerifierError(ServiceError):
    """A verifier crashed on a submission: a medgym bug, recorded as an error, never a wrong answer."""


class GraderError(ServiceError):
    """Grading code failed through no fault of the submission: the grader sandbox could not start, the
    reference crashed or timed out. Reported as a medgym problem, never counted as an attempt."""


class StoreError(ServiceError):
    """The SQLite task index or record store failed."""


# -- the operator's configuration ---------------------------------------------------------------
class ConfigurationError(MedgymError, ValueError):
    """Settings, tokens, image or command-line options are wrong; the message names what to fix."""


class DataError(ConfigurationError):
    """A data file or record cannot be read in its dataset's format (the message names what, never a value)."""


class ToolCallError(MedgymError):
    """In medgym's own scripted MCP clients: a tool answered with an error (the message is what a model reads)."""
