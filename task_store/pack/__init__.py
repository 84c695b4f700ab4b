"""The built-in open task pack: synthetic data, no data-use agreement needed."""
