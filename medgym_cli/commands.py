"""The CLI's subcommands (argument parsing lives in cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mcp_server.settings import Settings
from medgym.errors import ConfigurationError, MedgymError, UnknownTaskError
from task_store.pack.build import PACK_DATASETS
from task_store.store import TaskFilter, TaskStore


class CommandError(ConfigurationError):
    """A command failed in a way the user can fix; the message says how."""


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from mcp_server.app import build_server
    from mcp_server.auth import AuthConfigError
    from mcp_server.transports import serve_http, serve_stdio

    try:
        handle = build_server(settings)
        if settings.transport == "stdio":
            serve_stdio(handle)
        else:
            serve_http(handle, settings)
    except AuthConfigError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _store(settings: Settings) -> TaskStore:
    roots = settings.roots()
    if not roots:
        raise CommandError("no tasks configured: enable the built-in pack (MEDGYM_PACK=1) or pass --data-dir DIR")
    return TaskStore.open(settings.db_path, roots)


def tasks(settings: Settings, args: argparse.Namespace) -> int:
    if args.tasks_command == "audit":
        return _audit(settings, args)
    store = _store(settings)
    if args.tasks_command == "certify":
        return _certify(settings, store, args)
    if args.tasks_command == "show":
        try:
            task = store.get(args.task_id)
        except UnknownTaskError as exc:
            raise CommandError(str(exc)) from None
        from task_store.statement import task_markdown

        print(task_markdown(task))
        return 0
    page = store.query(TaskFilter(args.dataset, args.split, args.category, args.search), limit=args.limit)
    if args.json:
        print(page.model_dump_json(indent=2))
        return 0
    for item in page.tasks:
        print(f"{item.task_id:45} {item.category[:30]:30} {item.title[:70]}")
    print(f"({len(page.tasks)} of {page.total})", file=sys.stderr)
    return 0


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from task_store.audit import render_text, run_audit, write_json

    if settings.data_dir is None:
        raise CommandError("the label audit reads a MedAgentGym data directory: pass --data-dir DIR")
    report = run_audit(settings.data_dir, args.dataset)
    if not report.findings:
        raise CommandError(f"no MedCalcBench or N-PowerAI task files under {settings.data_dir}")
    print(render_text(report, details=args.details))
    if args.json:
        print(f"wrote {write_json(report, Path(args.json))}", file=sys.stderr)
    return 0


def datasets(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    rows: dict[tuple[str, str], int] = {}
    for row in store.counts():
        rows[(row.dataset, row.split)] = rows.get((row.dataset, row.split), 0) + row.count
    if args.json:
        print(json.dumps([{"dataset": d, "split": s, "count": c} for (d, s), c in sorted(rows.items())], indent=2))
    else:
        for (dataset, split), count in sorted(rows.items()):
            print(f"{dataset:16} {split:6} {count:7}")
    errors = [e for r in store.reports.values() for e in r.errors]
    for error in errors:
        print(f"malformed record skipped: {error}", file=sys.stderr)
    return 0


def image(settings: Settings, args: argparse.Namespace) -> int:
    from sandbox.image import ImageBuildError, build

    backend = settings.backend_config().build("cli")
    status = backend.image_status(settings.image)
    if args.image_command == "status":
        print(f"{status.image}: {'present' if status.present else 'missing'}"
              f"{', current' if status.current else (', outdated' if status.present else '')}")
        return _fhir_image(backend, args) if status.current else 1
    if status.current and not args.force:
        print(f"{settings.image} is present and current (use --force to rebuild)")
        return _fhir_image(backend, args)
    try:
        method = build(settings.image, args.method)
    except ImageBuildError as exc:
        raise CommandError(str(exc)) from None
    print(f"built {settings.image} ({method})")
    return _fhir_image(backend, args)


def _fhir_image(backend: object, args: argparse.Namespace) -> int:
    """Status or build of the FHIR server image (FHIR tasks' episodes; the Docker backend only)."""
    from sandbox.docker_backend import DockerBackend
    from sandbox.fhir_image import build_fhir_image, fhir_image_status
    from sandbox.image import ImageBuildError

    if not isinstance(backend, DockerBackend):
        return 0
    status = fhir_image_status(backend.client)
    if args.image_command == "status":
        print(f"{status.image}: {'present' if status.present else 'missing'}"
              f"{', current' if status.current else (', outdated' if status.present else '')}")
        return 0 if status.current else 1
    try:
        built = build_fhir_image(backend.client, force=args.force)
    except ImageBuildError as exc:
        raise CommandError(str(exc)) from None
    print(f"built {status.image} (offline)" if built else f"{status.image} is present and current")
    return 0


def doctor(settings: Settings, args: argparse.Namespace) -> int:
    from medgym_cli.doctor import run_checks

    ok = True
    for check in run_checks(settings):
        print(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"       fix: {check.fix}")
        ok = ok and (check.ok or check.optional)
    return 0 if ok else 1



def _certify(settings: Settings, store: TaskStore, args: argparse.Namespace) -> int:
    from medgym_cli import certify
    from tools.fhir_episodes import fhir_episodes_for
    from tools.sandboxes import SandboxProvider

    pack = certify.pack_root_of(store)
    in_pack = args.dataset is None or args.dataset in PACK_DATASETS
    if args.dataset is not None and store.root_of(args.dataset) is None:
        raise CommandError(f"no dataset {args.dataset!r} here; datasets: {', '.join(store.datasets()) or 'none'}")
    if pack is None and in_pack:
        raise CommandError("the built-in pack is disabled (MEDGYM_PACK=0): pass --dataset D of the data directory")
    chosen = certify.select(store, args.dataset, args.limit)
    print(f"certifying {len(chosen)} tasks in the sandbox ({settings.image}) ...", file=sys.stderr)
    done = [0]

    def progress(outcome: certify.Outcome) -> None:
        done[0] += 1
        if done[0] % 50 == 0 or not (outcome.reference_ok and outcome.constants_ok):
            print(f"  {done[0]}/{len(chosen)} {outcome.task_id}: {outcome.detail}", file=sys.stderr)

    backend = settings.backend_config().build("certify")
    fhir = fhir_episodes_for(backend, settings.home / "fhir-cache", max(1, settings.pool_size))
    sandboxes = SandboxProvider(store, settings.image, certify.LIMITS, backend.start, fhir)
    try:
        reports, outcomes = certify.certify(store, sandboxes, chosen, progress)
    finally:
        if fhir is not None:
            fhir.close()
    print(f"{'dataset':14} {'tasks':>6} {'reference correct':>18} {'constants incorrect':>20} {'seconds':>8}")
    for name, report in sorted(reports.items()):
        print(f"{name:14} {report.tasks:6} {_pct(report.reference_correct, report.tasks):>18} "
              f"{_pct(report.constants_incorrect, report.tasks):>20} {report.seconds:8.1f}")
    failures = [f for r in reports.values() for f in r.failures]
    failures += _prior_failures(store, {task.dataset for task in chosen})
    for failure in failures:
        print(f"FAILED {failure}")
    for skipped in (s for r in reports.values() for s in r.skipped):
        print(f"SKIPPED {skipped}")
    if not args.dry_run:
        moved = certify.apply(pack.path, outcomes, reports) if in_pack and pack is not None else \
            certify.record_data_dir(settings.home, outcomes)
        if moved:
            print(f"{moved} failing task(s) quarantined (not scored)", file=sys.stderr)
    return 1 if failures else 0


def _prior_failures(store: TaskStore, datasets: set[str]) -> list[str]:
    """Categories where one constant answer passes too many tasks (checked over every task, no sandbox)."""
    from medgym_cli import certify, priors

    priors_found = priors.category_priors(store, [t for d in sorted(datasets) for t in certify.select(store, d, None)])
    worst = sorted(priors_found.items(), key=lambda item: -item[1])[:3]
    print("largest constant-answer priors: " + ", ".join(f"{c} {p:.0%}" for (_, c), p in worst), file=sys.stderr)
    return [f"{dataset}/{category}: one constant answer passes {prior:.0%} of its tasks (at most "
            f"{priors.MAX_PRIOR:.0%} allowed)" for (dataset, category), prior in priors_found.items()
            if prior > priors.MAX_PRIOR]


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100.0 * part / whole:.1f}%)" if whole else "-"


def status(settings: Settings, args: argparse.Namespace) -> int:
    import anyio

    try:
        text = anyio.run(_read_status, args.url, settings)
    except Exception as exc:
        raise CommandError(f"could not read {args.url}: {type(exc).__name__}: {exc}") from None
    data = json.loads(text)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"catalog: {data['catalog']}")
    width = max([10, *(len(node["node"]) for node in data["nodes"])])
    print(f"{'node':{width}} {'running':>8} {'free':>6} {'pool':>9} {'waiting':>8} {'starts/min':>11} {'p50 ms':>8} "
          f"{'p99 ms':>8}")
    for node in data["nodes"]:
        if not node.get("reachable", True):
            print(f"{node['node']:{width}} unreachable: {node.get('error') or 'no answer'}")
            continue
        print(f"{node['node']:{width}} {node['sandboxes_running']:8} {node['sandboxes_free']:6} "
              f"{node['pool_idle']:>4}/{node['pool_target']:<4} {node['starts_waiting']:8} "
              f"{node['starts_per_minute']:11} {node['start_p50_ms'] or '-':>8} {node['start_p99_ms'] or '-':>8}")
    if len(data["nodes"]) > 1:
        print("(waiting, starts/min and latencies are the server's, over all nodes)")
    return 0


async def _read_status(url: str, settings: Settings) -> str:
    from evaluation.remote import remote_client

    async with remote_client(url, _token(settings), read_timeout_s=300.0) as client:
        contents = (await client.read_resource("medgym://status")).contents
    return str(getattr(contents[0], "text", ""))


def _token(settings: Settings) -> str | None:
    """MEDGYM_TOKEN, sent as the bearer token to a medgym URL (`status --url`, `eval --url`)."""
    return settings.token.get_secret_value() if settings.token is not None else None


def demo(settings: Settings, args: argparse.Namespace) -> int:
    import anyio

    from medgym_cli.demo import run_demo

    if not settings.pack:
        raise CommandError("the demo runs on the built-in pack; do not set MEDGYM_PACK=0")
    return anyio.run(run_demo, settings, args.per_dataset)


def evaluate(settings: Settings, args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import anyio
    import httpx2

    from evaluation import agents
    from evaluation.runner import EvalOptions, Selection, run_eval
    from evaluation.summary import markdown, summarize

    try:
        agent, info = _agent(settings, args)
    except agents.AgentSetupError as exc:
        raise CommandError(str(exc)) from None
    if args.samples < 1 or args.concurrency < 1:
        raise CommandError("--samples and --concurrency must be at least 1")
    run_dir = Path(args.run_dir or f"runs/{time.strftime('%Y%m%d-%H%M%S')}-{info.get('model') or info['kind']}")
    selection = Selection(args.dataset, args.split, args.category, args.limit,
                          Path(args.tasks_file) if args.tasks_file else None)
    env = {"MEDGYM_HOME": str(settings.home), "MEDGYM_IMAGE": settings.image}
    if settings.data_dir is not None:
        env["MEDGYM_DATA_DIR"] = str(settings.data_dir)
    options = EvalOptions(run_dir=run_dir, agent=agent, agent_info=info, selection=selection, samples=args.samples,
                          concurrency=args.concurrency, url=args.url, server_env=env, quiet=args.quiet,
                          retry_errors=args.retry_errors,
                          token=_token(settings))
    try:
        rows = anyio.run(run_eval, options)
    except Exception as exc:  # what escapes the episodes: the selection, the server, the connection
        cause = _first_leaf(exc)
        if isinstance(cause, MedgymError):
            raise CommandError(str(cause)) from None
        if isinstance(cause, (OSError, httpx2.TransportError)):
            where = args.url or "the medgym server it started"
            raise CommandError(f"could not reach {where}: {type(cause).__name__}: {cause}") from None
        raise
    table = markdown(summarize(rows), f"{run_dir.name}: {info.get('model') or info['kind']}")
    (run_dir / "summary.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"\nrun directory: {run_dir}", file=sys.stderr)
    failed = [row for row in rows if row.error is not None]
    if failed:
        retryable = sum(row.retryable for row in failed)
        print(f"{len(failed)} episode(s) failed (the agent or harness, not a wrong answer), for example "
              f"{failed[0].task_id}: {failed[0].error}", file=sys.stderr)
        if retryable:
            print(f"{retryable} of them ended before any verdict: run the same command with --retry-errors to run "
                  "them again", file=sys.stderr)
    return 0


def _first_leaf(exc: BaseException) -> BaseException:
    """The first exception inside nested exception groups (task groups wrap what their tasks raise)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _agent(settings: Settings, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from evaluation import agents
    from task_store.store import DataRoot

    if args.capture_tokens and args.agent != "openai":
        raise agents.AgentSetupError("--capture-tokens asks a model endpoint for tokens: use it with --agent openai")
    if args.agent == "oracle":
        store = TaskStore.open(settings.db_path, [DataRoot("pack", settings.pack_path())])
        return agents.oracle_agent(store.reference_solution), {"kind": "oracle"}
    if args.agent == "openai":
        if not args.base_url or not args.model:
            raise agents.AgentSetupError("--agent openai needs --base-url and --model")
        chat = agents.ChatSettings(args.base_url, args.model, args.api_key_env, args.max_turns, args.temperature,
                                   capture_tokens=args.capture_tokens)
        return agents.openai_agent(chat), agents.describe("openai", chat, None)
    if ":" in args.agent:
        return agents.python_agent(args.agent), {"kind": "python", "spec": args.agent}
    raise agents.AgentSetupError("--agent must be oracle, openai or module:function")


def export(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from trajectory.export import export as run_export

    source = Path(args.source) if args.source else settings.db_path
    if not source.exists():
        raise CommandError(f"{source} does not exist")
    count = run_export(source, args.format, Path(args.out), dataset=args.dataset, outcome=args.outcome,
                       run=args.run, include_oracle=args.include_oracle, include_samples=args.include_samples)
    print(f"wrote {count} {args.format} line(s) to {args.out}", file=sys.stderr)
    return 0


def report(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from evaluation.report import write_report

    missing = [d for d in args.run_dirs if not (Path(d) / "results.jsonl").is_file()]
    if missing:
        raise CommandError(f"not run directories (no results.jsonl): {', '.join(missing)}")
    out = write_report([Path(d) for d in args.run_dirs], Path(args.out))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def rescore(settings: Settings, args: argparse.Namespace) -> int:
    from medgym_cli.rescore import run

    return run(settings, args)
