"""The verifiers taskset id `medgym_verifiers` (verifiers imports a taskset by top-level module name).

The taskset lives in `evaluation.envs.verifiers_env`; see docs/TRAINING.md.
"""

from evaluation.envs.verifiers_env import MedgymTaskset, load_environment

__all__ = ["MedgymTaskset", "load_environment"]
