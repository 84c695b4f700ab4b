"""Sandboxes: the contract, the Docker backend, the in-container runner and its protocol."""
