"""Property-based tests (hypothesis) of bad input to every tool and resource.

Wrong types, missing and unknown arguments, unknown/empty/huge ids, out-of-range limits, forged
cursors, negative/zero/huge timeouts, 10 MB strings, NUL bytes and unicode edge cases, answers of
every JSON type. Each call must either succeed with a result that matches the tool's output
schema, or fail with a clear tool error: a short, specific message without a traceback, source
paths or exception reprs. The server must keep working afterwards.

One server and one in-process client per test (building a server per example is too slow): the
client lives in an anyio blocking portal, and hypothesis drives synchronous examples through it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult

from mcp_server.app import SERVER_PROBLEM, ServerHandle, build_server
from mcp_server.settings import Settings
from task_store.store import TaskFilter
from tests.conftest import share_pack

CALC = "medcalcbench/test/6"
POWER = "npowerai/train/1"
CALL_TIMEOUT_S = 60.0
MAX_MESSAGE_CHARS = 20_000  # an error an agent can read; the largest honest one here is ~2,000 characters
TEN_MB = 10 * 1024 * 1024
# Examples per property, scaled: CI (CI set) runs the full counts below (about 20 s on two cores), the
# local quick loop a third of them; a longer search sets more, e.g. MEDGYM_FUZZ_SCALE=20.
SCALE = float(os.environ.get("MEDGYM_FUZZ_SCALE") or ("1" if os.environ.get("CI") else "0.34"))

EXAMPLES = hyp_settings(
    max_examples=60, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)

# -- what a clear error is ------------------------------------------------------------------------

LEAKS = {
    "a traceback": re.compile(r"Traceback|\bline \d+, in\b"),
    "a source path": re.compile(r"File \"/|\.py\"|site-packages|/work/|/home/|/tmp/"),
    "an exception repr": re.compile(r"\b[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\s*[(:]"),
    "an object repr": re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>"),
}


def _text(result: CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def _echo(arguments: Any) -> str:
    """What the caller sent, as an error message might quote it (quoting is not a leak)."""
    return repr(arguments) + json.dumps(arguments, ensure_ascii=False, default=repr)


def assert_clear_error(tool: str, message: str, arguments: Any = None) -> None:
    generic = f"Error executing tool {tool}"
    detail = message.removeprefix(generic).lstrip(":. ")
    assert detail.strip(), f"{tool}: no reason given, only {message!r} (an unexpected exception in the server)"
    assert len(message) <= MAX_MESSAGE_CHARS, f"{tool}: a {len(message)}-character error message"
    assert SERVER_PROBLEM not in message, f"{tool}: bad input caused a server problem: {message[:500]!r}"
    echo = _echo(arguments)
    for what, pattern in LEAKS.items():
        found = pattern.search(message)
        assert found is None or pattern.search(echo), f"{tool}: the error shows {what}: {message[:2000]!r}"


# -- one server and client per test ----------------------------------------------------------------


@dataclass
class Server:
    handle: ServerHandle
    portal: BlockingPortal
    client: Client
    schemas: dict[str, dict[str, Any]]

    def raw(self, tool: str, arguments: Any) -> CallToolResult:
        call = partial(self.client.call_tool, tool, arguments, read_timeout_seconds=CALL_TIMEOUT_S)
        return self.portal.call(call)

    def check(self, tool: str, arguments: Any) -> dict[str, Any] | None:
        """Call a tool: a valid structured result (returned), or a clear tool error (None)."""
        result = self.raw(tool, arguments)
        if tool == "run_code" and result.is_error and SERVER_PROBLEM in _text(result):
            # a sandbox can fail for reasons of the machine (a busy Docker engine); only a failure
            # that repeats with the same input is blamed on the input
            warnings.warn(f"run_code failed once, retrying: {_text(result)[:300]}", stacklevel=2)
            time.sleep(1)
            result = self.raw(tool, arguments)
        if result.is_error:
            assert_clear_error(tool, _text(result), arguments)
            return None
        content = result.structured_content
        assert isinstance(content, dict), f"{tool}: success without a structured result: {_text(result)[:500]!r}"
        jsonschema.validate(content, self.schemas[tool])
        return content

    def ok(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        content = self.check(tool, arguments)
        assert content is not None, f"{tool} {arguments!r} failed"
        return content

    def error(self, tool: str, arguments: Any) -> str:
        result = self.raw(tool, arguments)
        message = _text(result)
        assert result.is_error, f"{tool} accepted {_short(arguments)}: {message[:300]!r}"
        return message

    def read(self, uri: str) -> None:
        """Read a resource: its text, or a clear MCP error."""
        try:
            result = self.portal.call(self.client.read_resource, uri)
        except MCPError as exc:
            message = str(exc)
            assert message.strip(), uri
            assert len(message) <= MAX_MESSAGE_CHARS, f"{uri[:200]}: a {len(message)}-character error"
            for what, pattern in LEAKS.items():
                assert pattern.search(message) is None or pattern.search(uri), f"{uri}: {what}: {message!r}"
            return
        assert result.contents and all(getattr(c, "text", None) is not None for c in result.contents), uri

    def assert_alive(self, sandbox: bool = False) -> None:
        datasets = self.ok("list_datasets", {})
        assert datasets["datasets"], "the server lists no datasets any more"
        if sandbox:
            run = self.ok("run_code", {"task_id": CALC, "code": "print(1)", "timeout_s": 30})
            assert run["stdout"] == "1\n" and run["exit_code"] == 0, run


@contextmanager
def serving(settings: Settings, **overrides: Any) -> Iterator[Server]:
    handle = build_server(settings.model_copy(update=overrides))
    with (start_blocking_portal(backend="asyncio") as portal,
          portal.wrap_async_context_manager(Client(handle.mcp)) as client):
        tools = portal.call(client.list_tools).tools
        schemas = {t.name: t.output_schema for t in tools if t.output_schema}
        assert handle.state is not None
        portal.call(handle.state.services.catalog.wait)  # the catalog loads in the background
        yield Server(handle, portal, client, schemas)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else f"{text[:150]}...({len(text)} characters)...{text[-100:]}"


def run_examples(strategy: st.SearchStrategy[Any], body: Callable[[Any], object], max_examples: int = 60) -> None:
    """Drive hypothesis examples of `strategy` through `body` (synchronous: the portal runs the calls)."""

    @hyp_settings(EXAMPLES, max_examples=max(1, round(max_examples * SCALE)))
    @given(strategy)
    def examples(value: Any) -> None:
        body(value)

    examples()


# -- strategies -------------------------------------------------------------------------------------

EDGE_TEXT = [
    "", " ", "\x00", "a\x00b", "\t\r\n", "\u200f", "\u200e", "\u202e", "\u2066\u2069", "e\u0301",
    "a" + "\u0301" * 40, "😀", "👩‍👩‍👧‍👦", "🇺🇳", "\u2028", "\u2029", "\ufeff", "\ufffd", "\U0010ffff", "\uffff",
    "İı", "ß", "ﬁ", "Ω", "٣", "３", "\u00a0", "\u3000", "'", '"', "\\", "%", "_", "*", "..", "../../etc/passwd",
    "medgym://", "NULL", "null", "None", "true", "0", "-1", "1e999", "NaN", "<script>", "{}", "[]", "$(id)",
]

# st.text never yields lone surrogates (not valid in JSON text); everything else is fair game
texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=4)), max_size=8).map("".join),
)
HUGE_SIZES = [10_000, 100_001, 1_000_001, TEN_MB]
huge_texts = st.builds(lambda n, c: (c * n)[:n], st.sampled_from(HUGE_SIZES),
                       st.sampled_from(["x", "😀", "\u0301", "\x00", "ab "]))
big_ints = st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**400, -(10**400)])
numbers = st.one_of(st.integers(), big_ints, st.floats())  # NaN and infinities become null in JSON
json_scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)
not_strings = json_values.filter(lambda v: not isinstance(v, str))


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def strings(huge: bool = True) -> st.SearchStrategy[Any]:
    """A value for a string argument: odd text, huge text or a value of another type."""
    options: list[st.SearchStrategy[Any]] = [texts, not_strings]
    if huge:
        options.append(huge_texts)
    return st.one_of(*options)


def arguments(required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]] | None = None,
              valid: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Argument dicts, half of them wild (any key may be odd or missing, unknown keys added) and half of
    them focused: valid values (`valid`, for the required keys) but for one odd argument, so that the
    calls get past argument validation into the tool."""
    optional = optional or {}
    every = {**required, **optional}
    complete = st.fixed_dictionaries(required, optional=optional)
    partial_ = st.fixed_dictionaries({}, optional=every)
    extras = st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k not in every), json_values,
                             max_size=2)
    wild = st.tuples(st.one_of(complete, complete, complete, partial_), st.one_of(st.just({}), extras)).map(
        lambda parts: {**parts[0], **parts[1]})
    if valid is None:
        return wild
    focused = st.one_of(*(st.fixed_dictionaries({**valid, name: odd}) for name, odd in every.items()))
    return st.one_of(wild, focused, focused)


def task_ids(known: list[str]) -> st.SearchStrategy[Any]:
    real = st.sampled_from(known)
    mutated = st.one_of(
        real.map(lambda t: t + "x"), real.map(str.upper), real.map(lambda t: t.rsplit("/", 1)[0]),
        real.map(lambda t: "/" + t), real.map(lambda t: t.replace("/", "\\")), real.map(lambda t: t + "\x00"),
        real.map(lambda t: t.replace("/", "/\u200f")), st.just("medcalcbench/test/-1"),
        st.just("medcalcbench/test/99999999999999999999999"), st.just("medcalcbench/../../etc/passwd"),
        st.just("x" * 512), st.just("x" * 513),
    )
    return st.one_of(real, real, mutated, strings())


def episode_ids(known: list[str]) -> st.SearchStrategy[Any]:
    real = st.sampled_from(known) if known else st.just("ep_0000000000000000")
    fake = st.one_of(
        st.just(""), st.just("ep_" + "0" * 16), st.just("ep_" + "f" * 61), st.just("ep_" + "f" * 62),
        real.map(str.upper), real.map(lambda e: e + "\x00"), real.map(lambda e: e[:-1]), real.map(lambda e: " " + e),
    )
    return st.one_of(st.none(), real, real, fake, strings())


def timeouts() -> st.SearchStrategy[Any]:
    fast = st.floats(min_value=1e-3, max_value=2.0)
    bad = st.sampled_from([0, 0.0, -0.0, -1, -1e-9, -1e300, 3600.0001, 3601, 1e300, 10**400, -(10**400),
                           float("nan"), float("inf"), float("-inf"), "NaN", "nan", "inf", "-inf", "Infinity",
                           "1e300", "-1", "", "abc", "30s", None, [], {}, [1.0], {"s": 1}])
    return st.one_of(st.none(), fast, fast, bad, st.floats(max_value=0.0), st.floats(min_value=3600.001),
                     st.integers(max_value=0), texts, not_strings)


SMALL_CODE = [
    "print(1)", "print('\u202e\u0301😀\u2028')", "print('\\x00')", "print('a\x00b')", "\x00", "", " ", "\ufeffprint(2)",
    "import sys; sys.stdout.buffer.write(b'\\xff\\xfe\\x00')", "raise SystemExit(3)", "raise KeyError('x')",
    "print('Traceback (most recent call last):')", "import os; os._exit(7)", "x = '''", "\u2028print(3)",
    "print(1)\r\nprint(2)\r", "def f(:", "print('\U0010ffff')", "import time; time.sleep(0.5)",
    "print('x' * 10_000_000)",
]
codes = st.one_of(st.sampled_from(SMALL_CODE), st.sampled_from(SMALL_CODE), texts, not_strings,
                  st.sampled_from([1_000_000, 1_000_001, TEN_MB]).map(lambda n: "#" * n))

answers = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=10),
    st.lists(json_values, min_size=1, max_size=3),  # invalid items: one message per union member and item
    st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    st.integers(min_value=2, max_value=200).map(nested),
    st.sampled_from([10**400, -(10**400), 2**63, "1e999", "-1e999", "1e-999", "NaN", "inf", "1,000,000.5",
                     "٣", "３", "\u202e42", "4\u200d2", "42\u00a0", "0x2a", "4_2", "1/2", "2024-02-30",
                     "40 weeks, 9 days", "(40, 9)", "True", "yes", "[1, 2]", "['a']"]),
    st.sampled_from([100_000, 1_000_000]).map(lambda n: list(range(n))),
    st.sampled_from([1_000, 10_000]).map(lambda n: ["x" * 1000] * n),
    st.sampled_from([None, True, 1.5, "x"]).map(lambda v: [v] * 100_000),
    huge_texts,
)


def forged_cursor(after: Any, tag: Any) -> str:
    raw = json.dumps({"after": after, "filter": tag}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursors(real: list[str]) -> st.SearchStrategy[Any]:
    no_filter = json.dumps([None, None, None, None])
    afters = st.one_of(st.integers(), st.floats(), st.text(alphabet="0123456789-", max_size=40),
                       st.none(), st.booleans(), st.lists(st.integers(), max_size=2))
    tags = st.one_of(st.just(no_filter), st.just(no_filter), texts, json_values)
    forged = st.builds(forged_cursor, afters, tags)
    random_b64 = st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode())
    b64_json = json_values.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode())
    real_ = st.sampled_from(real)
    mangled = st.one_of(real_.map(lambda c: c[:-2]), real_.map(lambda c: c + "=="), real_.map(lambda c: c[::-1]),
                        real_.map(lambda c: c.upper()))
    return st.one_of(st.none(), real_, forged, forged, random_b64, b64_json, mangled, strings(huge=False),
                     st.just("x" * 1001))


def search_texts() -> st.SearchStrategy[Any]:
    words = st.one_of(texts, st.sampled_from(["a " * 250, "ab " * 166, "\"\" * NEAR( ^ - OR AND NOT", "x" * 500,
                                              "x" * 501, "%_%", "\\", "e\u0301", "abc\x00def", "00\x00"]))
    return st.one_of(st.none(), words, not_strings, huge_texts)


# -- fixtures of the data --------------------------------------------------------------------------


def answer_targets(server: Server) -> list[str]:
    """One task per (dataset, answer kind), so that every verifier sees bad answers."""
    assert server.handle.state is not None
    store = server.handle.state.services.store
    seen: dict[tuple[str, str], str] = {}
    for dataset in store.datasets():
        cursor = None
        for _ in range(10):  # the first 2,000 tasks of each dataset
            page = store.query(TaskFilter(dataset=dataset), 200, cursor)
            for summary in page.tasks:
                seen.setdefault((dataset, store.get(summary.task_id).answer_format.kind), summary.task_id)
            cursor = page.next_cursor
            if cursor is None:
                break
    return sorted(seen.values())


def open_episodes(server: Server, task_ids_: list[str]) -> list[str]:
    return [server.ok("get_task", {"task_id": t, "new_episode": True})["episode_id"] for t in task_ids_]


# -- the tests --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_backend")
def test_unknown_argument_names_are_refused(settings: Settings) -> None:
    """An argument a tool does not declare (a misspelt `timeout` for `timeout_s`) is an error, never ignored."""
    extras = st.dictionaries(st.text(max_size=12), json_values, max_size=4)
    declared = {"list_datasets": set(), "get_progress": set(),
                "list_tasks": {"dataset", "split", "category", "search", "limit", "cursor"}}
    with serving(settings, pool_size=0) as server:

        def body(example: tuple[str, dict[str, Any]]) -> None:
            tool, args = example
            result = server.check(tool, args)
            unknown = set(args) - declared[tool]
            assert result is None or not unknown, f"{tool} ignored unknown arguments {sorted(unknown)}"
            if unknown:
                message = server.error(tool, args)
                assert "unknown argument" in message and f"for {tool}" in message, message

        run_examples(st.tuples(st.sampled_from(sorted(declared)), extras), body, max_examples=100)
        assert server.ok("list_datasets", {})
        assert "it accepts: task_id, code, timeout_s, episode_id" in server.error(
            "run_code", {"task_id": CALC, "code": "print(1)", "timeout": 5})
        server.assert_alive()


@pytest.mark.usefixtures("fake_backend")
def test_list_tasks_bad_arguments(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        datasets = [d["name"] for d in server.ok("list_datasets", {})["datasets"]]
        real_cursors = [c for c in (server.ok("list_tasks", args)["next_cursor"] for args in (
            {"limit": 1}, {"dataset": "medcalcbench", "limit": 3}, {"search": "age", "limit": 2},
            {"split": "test", "limit": 1})) if c]
        assert real_cursors
        names = st.one_of(st.none(), st.sampled_from(datasets), st.sampled_from(["test", "train", "valid"]),
                          texts, not_strings)
        odd_limits: list[Any] = ["20", "0", "-1", "1e2", "two", "", True, False, None, [], {}, [20]]
        limits = st.one_of(st.integers(min_value=1, max_value=200), st.integers(), big_ints, st.floats(),
                           st.sampled_from(odd_limits))
        strategy = arguments({}, {
            "dataset": names, "split": st.one_of(names, huge_texts), "category": st.one_of(names, huge_texts),
            "search": search_texts(), "limit": limits, "cursor": cursors(real_cursors),
        }, valid={})

        def body(args: dict[str, Any]) -> None:
            page = server.check("list_tasks", args)
            if page is not None:
                assert len(page["tasks"]) <= 200

        run_examples(strategy, body, max_examples=400)
        server.assert_alive()


@pytest.mark.usefixtures("fake_backend")
def test_get_task_and_reset_task_bad_arguments(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        known = [CALC, POWER, server.ok("list_tasks", {"dataset": "mimic_iii", "limit": 1})["tasks"][0]["task_id"]]
        episodes = open_episodes(server, known)
        odd_flags: list[Any] = ["true", "false", "yes", "no", "1", "0", 0, 1, 2, -1, 1.5, None, [], {}, "",
                                "\u202etrue"]
        flags = st.one_of(st.booleans(), st.booleans(), st.sampled_from(odd_flags))
        valid = {"task_id": st.sampled_from(known)}
        get_args = arguments({"task_id": task_ids(known)},
                             {"episode_id": episode_ids(episodes), "new_episode": flags}, valid)
        reset_args = arguments({"task_id": task_ids(known)}, {"episode_id": episode_ids(episodes)}, valid)
        strategy = st.one_of(st.tuples(st.just("get_task"), get_args), st.tuples(st.just("reset_task"), reset_args))

        def body(example: tuple[str, dict[str, Any]]) -> None:
            tool, args = example
            result = server.check(tool, args)
            if result is not None:
                assert result["task_id"] == args["task_id"] and result["episode_id"].startswith("ep_")

        run_examples(strategy, body, max_examples=300)
        server.assert_alive()


@pytest.mark.usefixtures("fake_backend")
def test_submit_answer_bad_answers(settings: Settings) -> None:
    with serving(settings, pool_size=0, max_attempts=100) as server:
        targets = answer_targets(server)
        assert len(targets) >= 8, targets
        episodes = open_episodes(server, targets[:3])
        valid = {"task_id": st.sampled_from(targets), "answer": st.sampled_from([1, 2.5, "1", "yes", True, ["a"]])}
        strategy = arguments({"task_id": task_ids(targets), "answer": answers},
                             {"episode_id": episode_ids(episodes)}, valid)

        def body(args: dict[str, Any]) -> None:
            verdict = server.check("submit_answer", args)
            if verdict is not None:
                assert 0.0 <= verdict["score"] <= 1.0 and verdict["attempts_used"] >= 1

        run_examples(strategy, body, max_examples=400)
        server.assert_alive()


def test_run_code_bad_arguments(settings: Settings, docker_ready: None, no_leftover_containers: None) -> None:
    with serving(settings, pool_size=1) as server:
        episodes = open_episodes(server, [CALC])
        valid = {"task_id": st.just(CALC), "code": st.sampled_from(SMALL_CODE), "timeout_s": st.just(2.0)}
        strategy = arguments({"task_id": task_ids([CALC, POWER]), "code": codes},
                             {"timeout_s": timeouts(), "episode_id": episode_ids(episodes)}, valid)

        def body(args: dict[str, Any]) -> None:
            args = {"timeout_s": 2.0, **args}  # without timeout_s a run could take the default 30 s
            run = server.check("run_code", args)
            if run is not None:
                assert run["episode_id"].startswith("ep_") and run["duration_ms"] >= 0

        run_examples(strategy, body, max_examples=200)
        server.assert_alive(sandbox=True)


def test_inspect_data_bad_arguments(settings: Settings, pack_home: Path, tmp_path: Path, docker_ready: None,
                                   no_leftover_containers: None) -> None:
    home = tmp_path / "pack-user"
    home.mkdir()
    share_pack(home, pack_home)
    with serving(settings, home=home, pack=True, pool_size=1) as server:
        ehr = server.ok("list_tasks", {"dataset": "medgym_ehr", "limit": 1})["tasks"][0]["task_id"]
        known = [ehr, CALC, server.ok("list_tasks", {"dataset": "mimic_iii", "limit": 1})["tasks"][0]["task_id"]]
        episodes = open_episodes(server, known)
        actions = st.one_of(st.sampled_from(["list_tables", "describe_table", "column_values", "search"]),
                            st.sampled_from(["LIST_TABLES", "list_tables ", "drop", "", "search\x00"]), strings())
        names = st.one_of(st.none(), st.sampled_from(["PATIENTS", "patients", "ADMISSIONS", "hadm_id", "ROUTE",
                                                      "drug", "../../etc/passwd", "'; DROP TABLE x; --",
                                                      "a\"b", "*", "%", "_"]), texts, not_strings)
        valid = {"task_id": st.just(ehr), "action": st.sampled_from(["describe_table", "column_values", "search"]),
                 "table": st.sampled_from(["PATIENTS", "PRESCRIPTIONS"]), "term": st.just("al")}
        strategy = arguments({"task_id": task_ids(known), "action": actions},
                             {"table": names, "column": names, "term": st.one_of(names, search_texts()),
                              "episode_id": episode_ids(episodes)}, valid)

        def body(args: dict[str, Any]) -> None:
            result = server.check("inspect_data", args)
            if result is not None:
                assert result["episode_id"].startswith("ep_") and len(result["rows"]) <= 300
                assert all(len(row) == len(result["columns"]) for row in result["rows"])

        run_examples(strategy, body, max_examples=150)
        listing = server.ok("inspect_data", {"task_id": ehr, "action": "list_tables"})
        assert len(listing["rows"]) == 17
        server.assert_alive(sandbox=True)


def test_every_tool_in_any_order(settings: Settings, docker_ready: None, no_leftover_containers: None) -> None:
    """Interleaved calls of all tools (episodes end and reset meanwhile); afterwards run_code still works."""
    with serving(settings, pool_size=1, max_attempts=3) as server:
        known = [CALC, POWER]
        episodes = open_episodes(server, known)
        ids = task_ids(known)
        eps = episode_ids(episodes)
        any_args = st.dictionaries(st.sampled_from(["task_id", "episode_id", "code", "timeout_s", "answer", "limit",
                                                    "cursor", "dataset", "new_episode", "search"]), json_values,
                                   max_size=4)
        call = st.one_of(
            st.tuples(st.just("list_datasets"), st.just({})),
            st.tuples(st.just("get_progress"), st.just({})),
            st.tuples(st.just("list_tasks"), arguments({}, {"dataset": strings(huge=False), "limit": numbers,
                                                            "cursor": strings(huge=False)})),
            st.tuples(st.just("get_task"), arguments({"task_id": ids}, {"episode_id": eps,
                                                                         "new_episode": st.booleans()})),
            st.tuples(st.just("run_code"), arguments({"task_id": ids, "code": st.sampled_from(SMALL_CODE[:8])},
                                                     {"timeout_s": timeouts(), "episode_id": eps})),
            st.tuples(st.just("submit_answer"), arguments({"task_id": ids, "answer": answers}, {"episode_id": eps})),
            st.tuples(st.just("reset_task"), arguments({"task_id": ids}, {"episode_id": eps})),
            st.tuples(st.sampled_from(["list_tasks", "get_task", "run_code", "submit_answer", "reset_task"]), any_args),
        )

        def body(calls: list[tuple[str, dict[str, Any]]]) -> None:
            for tool, args in calls:
                if tool == "run_code" and not (isinstance(args.get("timeout_s"), (int, float))
                                               and args["timeout_s"] <= 2):
                    args = {**args, "timeout_s": 2}  # keep the runs short (SMALL_CODE[:8] are quick anyway)
                server.check(tool, args)

        run_examples(st.lists(call, min_size=1, max_size=6), body, max_examples=100)
        server.assert_alive(sandbox=True)


@pytest.mark.usefixtures("fake_backend")
def test_resources_with_unknown_or_odd_ids(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        episode = open_episodes(server, [CALC])[0]
        ids = st.one_of(texts, st.sampled_from([CALC, episode, "", "x" * 10_000, CALC + "/extra", "%00", "%2F"]))
        kind = st.sampled_from(["tasks", "episodes"])

        def body(example: tuple[str, str]) -> None:
            name, value = example
            server.read(f"medgym://{name}/{quote(value, safe='/' if name == 'tasks' else '')}")

        run_examples(st.tuples(kind, ids), body, max_examples=150)
        server.assert_alive()


# -- fixed cases: huge strings, timeouts, unknown tools ------------------------------------------------


HUGE_CASES = [
    ("run_code", {"task_id": CALC, "code": "x" * TEN_MB}),
    ("run_code", {"task_id": CALC, "code": "😀" * TEN_MB}),
    ("run_code", {"task_id": CALC, "code": "\x00" * TEN_MB, "timeout_s": 1}),
    ("run_code", {"task_id": "x" * TEN_MB, "code": "print(1)"}),
    ("run_code", {"task_id": CALC, "code": "print(1)", "episode_id": "x" * TEN_MB}),
    ("get_task", {"task_id": "\x00" * TEN_MB}),
    ("list_tasks", {"search": "a " * (TEN_MB // 2)}),
    ("list_tasks", {"cursor": "A" * TEN_MB}),
    ("list_tasks", {"category": "\u202e" * TEN_MB}),
    ("submit_answer", {"task_id": CALC, "answer": "9" * TEN_MB}),
    ("submit_answer", {"task_id": CALC, "answer": "x" * TEN_MB}),
    ("submit_answer", {"task_id": CALC, "answer": ["x" * TEN_MB]}),
    ("reset_task", {"task_id": CALC, "episode_id": "ep_" * TEN_MB}),
]


@pytest.mark.usefixtures("fake_backend")
def test_ten_megabyte_strings_are_rejected_fast(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        for tool, args in HUGE_CASES:
            started = time.monotonic()
            server.check(tool, args)
            assert time.monotonic() - started < 10, (tool, _short(args))
        for tool, args in HUGE_CASES[:2]:  # code over the 1,000,000-character limit
            assert "1000000" in server.error(tool, args)
        server.assert_alive()


@pytest.mark.usefixtures("fake_backend")
def test_timeouts_out_of_range_are_clear_errors(settings: Settings) -> None:
    bad = [0, 0.0, -0.0, -1, -1e-300, -1e300, 3600.5, 1e300, 10**400, float("nan"), float("inf"), float("-inf"),
           "NaN", "inf", "-1", "abc", "", None, [], {}, [5]]
    with serving(settings, pool_size=0) as server:
        for timeout in bad:
            args = {"task_id": CALC, "code": "print(1)", "timeout_s": timeout}
            message = server.error("run_code", args)
            assert_clear_error("run_code", message, args)
            assert "timeout_s" in message, (timeout, message)
        message = server.error("list_tasks", {"limit": 10**400})
        assert "limit" in message
        server.assert_alive()


@pytest.mark.usefixtures("fake_backend")
def test_unknown_tools_and_missing_arguments(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        for name in ("nope", "", "run code", "RUN_CODE", "list_datasets\x00", "😀" * 100):
            message = server.error(name, {})
            assert "unknown tool" in message.lower(), message
        for tool, required in (("get_task", "task_id"), ("run_code", "code"), ("submit_answer", "answer"),
                               ("reset_task", "task_id")):
            args = {} if required == "task_id" else {"task_id": CALC}
            message = server.error(tool, args)
            assert_clear_error(tool, message, args)
            assert required in message and "required" in message.lower(), message
        server.assert_alive()


# -- inputs that once crashed the server or produced huge errors (now fixed) ----------------------------


@pytest.mark.usefixtures("fake_backend")
def test_forged_cursor_out_of_range(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        for after in (2**63, 10**30, -(2**63) - 1, float("inf"), 1e300):
            args = {"cursor": forged_cursor(after, json.dumps([None, None, None, None]))}
            assert_clear_error("list_tasks", server.error("list_tasks", args), args)


@pytest.mark.usefixtures("fake_backend")
def test_search_with_nul_bytes(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        for search in ("abc\x00def", "\x00abc", "ab\x00"):
            server.check("list_tasks", {"search": search})


@pytest.mark.usefixtures("fake_backend")
def test_huge_unknown_dataset_error_is_short(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        args = {"dataset": "x" * TEN_MB}
        assert_clear_error("list_tasks", server.error("list_tasks", args), args)


@pytest.mark.usefixtures("fake_backend")
def test_huge_invalid_answer_error_is_short(settings: Settings) -> None:
    with serving(settings, pool_size=0) as server:
        args = {"task_id": CALC, "answer": [[1]] * 10_000}
        assert_clear_error("submit_answer", server.error("submit_answer", args), args)
