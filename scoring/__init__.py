"""Verifiers: exact scoring rules per answer kind. Never imports the sandbox."""
