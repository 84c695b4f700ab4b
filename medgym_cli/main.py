"""The `medgym` command line: serve, tasks, datasets, image, doctor."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from mcp_server.settings import Settings, SettingsError
from medgym.version import __version__


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="MedAgentGym data directory (MEDGYM_DATA_DIR)")
    common.add_argument("--home", help="medgym's own files (MEDGYM_HOME, default ~/.medgym)")
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser = argparse.ArgumentParser(prog="medgym", description="MedAgentGym tasks over MCP, with verified scores")
    parser.add_argument("--version", action="version", version=f"medgym {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the MCP server")
    serve.add_argument("--transport", choices=["stdio", "http"])
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8765)")

    tasks = commands.add_parser("tasks", help="list or show tasks").add_subparsers(dest="tasks_command", required=True)
    listing = tasks.add_parser("list", parents=[common], help="list tasks")
    for name in ("dataset", "split", "category", "search"):
        listing.add_argument(f"--{name}")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    show = tasks.add_parser("show", parents=[common], help="show one task as an agent sees it")
    show.add_argument("task_id")
    certify = tasks.add_parser("certify", parents=[common],
                               help="run reference solutions in the sandbox and score them; quarantine failures")
    certify.add_argument("--dataset", help="a built-in pack dataset (default: all of them), or a data-directory "
                                           "dataset with reference solutions (biocoder, biodsbench)")
    certify.add_argument("--limit", type=int, help="certify a sample stratified by dataset and category")
    certify.add_argument("--dry-run", action="store_true", help="report only; do not quarantine failures")
    audit = tasks.add_parser("audit", parents=[common],
                             help="recompute MedCalcBench and N-PowerAI labels independently and report disagreements")
    audit.add_argument("--dataset", choices=["medcalcbench", "npowerai"])
    audit.add_argument("--json", metavar="FILE", help="also write the report, one finding per task, as JSON")
    audit.add_argument("--details", action="store_true", help="list every disagreement with both values and its cause")

    datasets = commands.add_parser("datasets", parents=[common], help="datasets found, with counts")
    datasets.add_argument("--json", action="store_true")

    image = commands.add_parser("image", help="sandbox image").add_subparsers(dest="image_command", required=True)
    build = image.add_parser("build", parents=[common],
                             help="build the sandbox image (offline when no registry is reachable)")
    build.add_argument("--method", choices=["auto", "dockerfile", "offline"], default="auto")
    build.add_argument("--force", action="store_true", help="rebuild even if the image is current")
    image.add_parser("status", parents=[common], help="is the image present and current?")

    commands.add_parser("doctor", parents=[common], help="check Docker, the image and the data directory")
    status = commands.add_parser("status", parents=[common],
                                 help="a running HTTP server's capacity: sandboxes, warm pool, queue, start latency")
    status.add_argument("--url", default="http://127.0.0.1:8765/mcp", help="the server's MCP endpoint")
    status.add_argument("--json", action="store_true")
    _eval_parser(commands, common)
    export = commands.add_parser("export", parents=[common], help="training data from a run directory or the store")
    export.add_argument("source", nargs="?", help="a run directory, a folder of runs, or medgym.sqlite "
                                                  "(default: the store in MEDGYM_HOME)")
    export.add_argument("--format", choices=["sft", "dpo", "raw", "atif"], required=True,
                        help="atif: one ATIF-v1.8 (Harbor) trajectory per line")
    export.add_argument("--out", required=True, help="the JSONL file to write")
    export.add_argument("--dataset")
    export.add_argument("--outcome", choices=["correct", "incorrect", "unsubmitted", "error"])
    export.add_argument("--run", help="only this run (a folder name under SOURCE)")
    export.add_argument("--include-oracle", action="store_true",
                        help="also export oracle runs (they contain the pack's hidden reference solutions)")
    export.add_argument("--include-samples", action="store_true",
                        help="also export later episodes of a task (retries), not only each client's first "
                             "episode and the samples of its group")
    from medgym_cli import rescore

    rescore.add_parser(commands, common)
    report = commands.add_parser("report", parents=[common], help="an HTML report comparing run directories")
    report.add_argument("run_dirs", nargs="+")
    report.add_argument("--out", default="report.html")
    demo = commands.add_parser("demo", parents=[common],
                               help="a scripted MCP session that opens, solves and scores built-in tasks")
    demo.add_argument("--per-dataset", type=int, default=2, help="tasks per built-in dataset")
    return parser


def _eval_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser("eval", parents=[common], help="run an agent over tasks through MCP and score it")
    run.add_argument("--agent", required=True, help="oracle | openai | module:function (a custom async agent)")
    run.add_argument("--dataset")
    run.add_argument("--split")
    run.add_argument("--category")
    run.add_argument("--limit", type=int, help="at most this many tasks")
    run.add_argument("--tasks-file", help="a file with one task id per line")
    run.add_argument("--samples", type=int, default=1, help="attempts per task (pass@k)")
    run.add_argument("--concurrency", type=int, default=4, help="episodes in parallel")
    run.add_argument("--url", help="a running medgym HTTP server (default: spawn `medgym serve` over stdio)")
    run.add_argument("--run-dir", help="results folder (default runs/<time>-<agent>); reuse it to resume")
    run.add_argument("--retry-errors", action="store_true",
                     help="when resuming, also run again the episodes where the agent or harness failed before "
                          "any verdict (the errored row is kept, its successor replaces it in the summary)")
    run.add_argument("--base-url", help="openai: the chat-completions endpoint's base URL (…/v1)")
    run.add_argument("--model", help="openai: model name")
    run.add_argument("--api-key-env", help="openai: NAME of the environment variable holding the API key")
    run.add_argument("--max-turns", type=int, default=15)
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--capture-tokens", action="store_true",
                     help="openai: ask the endpoint for token ids and log-probabilities (vLLM's logprobs, "
                          "return_token_ids, return_tokens_as_token_ids) and keep them beside the transcripts")
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "home": args.home,
        "log_level": args.log_level,
        "transport": getattr(args, "transport", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
    }
    return Settings.from_env(overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"medgym: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # a line per HTTP request (eval --url, status)
        for name in ("httpx", "httpx2"):
            logging.getLogger(name).setLevel(logging.WARNING)
    from medgym_cli import commands

    handlers = {
        "serve": commands.serve,
        "tasks": commands.tasks,
        "datasets": commands.datasets,
        "image": commands.image,
        "doctor": commands.doctor,
        "status": commands.status,
        "demo": commands.demo,
        "eval": commands.evaluate,
        "export": commands.export,
        "report": commands.report,
        "rescore": commands.rescore,
    }
    try:
        return handlers[args.command](settings, args)
    except commands.CommandError as exc:
        print(f"medgym: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
