"""The two ways a tool can fail, so the server can tell the client which one happened."""

from __future__ import annotations


class ToolInputError(ValueError):
    """A mistake the caller can fix: unknown id, wrong answer format, no attempts left."""


class ServiceError(RuntimeError):
    """medgym's own machinery failed (e.g. the Docker engine is gone); not the caller's fault."""


class VerifierError(ServiceError):
    """The verifier crashed on a submission: a medgym bug, recorded as an error, never as a wrong answer."""
