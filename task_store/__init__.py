"""Tasks: the `Task` model, one adapter per dataset, the SQLite index and the built-in pack."""
