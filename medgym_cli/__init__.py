"""The `medgym` command line and its commands: serve, tasks (list, show, certify), datasets, image,
doctor, demo, eval, export, report."""
