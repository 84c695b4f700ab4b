"""medgym's shared vocabulary, imported by every layer: the exception tree (`medgym.errors`) and the
version (`medgym.version`). The command line is `medgym_cli`; the layers and their import direction
are written down as import-linter contracts in `pyproject.toml`.
"""
