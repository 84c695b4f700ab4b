"""Episode and event records (versioned schema) and exports to training formats."""
