"""`medgym rescore`: re-verify stored episodes with the current verifiers and labels (no model runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mcp_server.settings import Settings
from scoring.keys import AnswerKey
from task_store.audit_index import build_audit
from task_store.store import TaskStore
from trajectory.rescore import KeyLookup
from trajectory.rescore_store import changes, rescore_source, table


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "rescore", parents=[common],
        help="re-verify stored episodes' final answers with the current verifiers and labels (MEDGYM_LABELS)")
    parser.add_argument("source", nargs="?", help="medgym.sqlite or a run directory (default: the store in "
                                                  "MEDGYM_HOME)")
    parser.add_argument("--dataset")
    parser.add_argument("--labels", choices=["official", "audited"], help="answer keys to score against "
                                                                          "(default: MEDGYM_LABELS)")
    parser.add_argument("--json", metavar="FILE", help="also write every result, one JSON object per line")
    parser.add_argument("--dry-run", action="store_true", help="report only; write nothing beside the records")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from medgym_cli.commands import CommandError

    source = Path(args.source) if args.source else settings.db_path
    if not source.exists():
        raise CommandError(f"{source} does not exist")
    labels = args.labels or settings.labels
    keys = _key_lookup(settings, labels)
    try:
        run_id, results = rescore_source(source, keys, labels, args.dataset, write=not args.dry_run)
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(table(changes(results)))
    if args.json:
        Path(args.json).write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
    where = "nothing written (dry run)" if args.dry_run else f"kept beside the old verdicts as {run_id}"
    print(f"\n{len(results)} episode(s), labels {labels}; {where}", file=sys.stderr)
    return 0


def _key_lookup(settings: Settings, labels: str) -> KeyLookup:
    """`task_id -> AnswerKey` under the chosen labels, from the task index (as the server builds it)."""
    roots = settings.roots()
    store = TaskStore.open(settings.db_path, roots)
    store.audit = build_audit([r.path for r in roots if r.label == "medagentgym"], "audited" if labels == "audited"
                              else "official")

    def key_of(task_id: str) -> AnswerKey:
        return store.answer_key(task_id)

    return key_of
