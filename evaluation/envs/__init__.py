"""medgym as training environments: an OpenEnv server (`openenv_env`) and a verifiers taskset
(`verifiers_env`).

Both reach medgym only through its MCP tools (a spawned `medgym serve` over stdio, or a running
HTTP server), open one episode per rollout, let the agent call only `run_code`, `inspect_data`
and `submit_answer`, and take the reward from the server's `submit_answer` verdict. Each needs
its optional extra (`pip install medgym[openenv]` or `medgym[verifiers]`); see docs/TRAINING.md.
"""
