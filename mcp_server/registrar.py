"""Turn the `ToolDef`s of `tools.toolset` into MCP tools, and medgym's errors into MCP tool errors.

For each tool the registrar builds one wrapper whose signature is the tool function's own minus
its `call` parameter, plus the MCP `Context` (so the SDK derives the input schema from the single
declaration), with `FromLimits` bounds and defaults filled in from the server's limits. The
wrapper injects the services, the caller's identity and progress, runs synchronous (catalog) tools
on their own thread limiter so they never queue behind sandbox runs, records the call in its
episode, and translates errors: this is the one place where `medgym.errors` meet MCP.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import typing
from collections.abc import Callable
from typing import Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from mcp_server.identity import caller_of
from mcp_server.recording import ReferenceCache, record_call
from mcp_server.state import AppState
from medgym import stages
from medgym.errors import (
    SERVER_PROBLEM,
    ClientError,
    InvalidArgumentError,
    QuotaError,
    ServiceError,
    StoreError,
    UnknownTaskError,
    VerifierError,
)
from sandbox.limits import Limits
from tools.context import Call
from tools.params import FromLimits
from tools.toolset import Effect, ToolDef

log = logging.getLogger(__name__)

INTERNAL_ERROR = "an internal error ({}), logged by the server; try again"
ANNOTATIONS: dict[Effect, ToolAnnotations] = {
    "read": ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False),
    "act": ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                           open_world_hint=False),
    "destroy": ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                               open_world_hint=False),
}
CATALOG_THREADS = 8  # worker threads for synchronous tools, apart from the ones sandbox runs use


def register_tools(mcp: MCPServer[AppState], tools: tuple[ToolDef, ...], limits: Limits) -> None:
    limiter = anyio.CapacityLimiter(CATALOG_THREADS)
    references = ReferenceCache()
    for definition in tools:
        description = inspect.cleandoc(definition.function.__doc__ or "")
        mcp.add_tool(_wrapper(definition, limits, limiter, references), name=definition.name, title=definition.title,
                     description=description, annotations=ANNOTATIONS[definition.effect], structured_output=True)


def _wrapper(definition: ToolDef, limits: Limits, limiter: anyio.CapacityLimiter,
             references: ReferenceCache) -> Callable[..., Any]:
    function = definition.function
    is_async = inspect.iscoroutinefunction(function)

    async def wrapper(ctx: Context[AppState, Any], **arguments: Any) -> Any:
        with stages.clocked(definition.name):
            stages.mark("enter")  # the SDK's decoding and validation, when the clock opened before it
            return await _call(ctx, arguments)

    async def _call(ctx: Context[AppState, Any], arguments: dict[str, Any]) -> Any:
        state: AppState = ctx.request_context.lifespan_context
        call = Call(state.services, caller_of(ctx), _progress(ctx) if is_async else None)
        started = time.perf_counter()
        result: BaseModel | None = None
        error: tuple[str, str] | None = None
        refused = False  # refused before anything ran: not an event of any episode
        try:
            if not state.services.catalog.ready:
                await state.services.catalog.wait(_progress(ctx), definition.catalog_wait)
            if definition.recorded and not state.recorder.store.accepting:
                raise StoreError("episode records cannot be written (is the disk full?); medgym accepts no new "
                                 "work until they can")
            if is_async:
                result = await function(call, **arguments)
            else:
                result = await anyio.to_thread.run_sync(functools.partial(function, call, **arguments),
                                                        limiter=limiter)
        except ClientError as exc:
            error, refused = (str(exc), "input"), isinstance(exc, InvalidArgumentError | UnknownTaskError | QuotaError)
            raise ToolError(str(exc)) from None
        except ServiceError as exc:
            error = (SERVER_PROBLEM + str(exc), "verifier" if isinstance(exc, VerifierError) else "service")
            raise ToolError(error[0]) from None
        except Exception as exc:  # a bug of medgym's: the traceback goes to the log, the client gets a server problem
            log.exception("%s failed with an internal error", definition.name)
            error = (SERVER_PROBLEM + INTERNAL_ERROR.format(type(exc).__name__), "service")
            raise ToolError(error[0]) from None
        finally:
            if definition.recorded and not refused:
                record_call(state, call.caller, definition.name, arguments, result, error,
                            (time.perf_counter() - started) * 1000, references)
                stages.mark("record")
        if getattr(result, "episode_ended", False):  # a final verdict is on disk before the client hears it
            await _stored(state)
        return result

    _declare(wrapper, function, limits)
    return wrapper


async def _stored(state: AppState) -> None:
    """Wait (off the event loop) until the records queued so far are committed. After a final verdict: a
    server that dies once the client has its verdict has that verdict in its records, so the restarted
    server counts it as the principal's score, never the episode as opened and unscored."""
    if not await anyio.to_thread.run_sync(state.recorder.store.flush):
        log.warning("a final verdict's record is not on disk yet: the record writer is behind")


def _progress(ctx: Context[AppState, Any]) -> Callable[[float, float | None, str], Any]:
    async def report(done: float, total: float | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report


def _declare(wrapper: Callable[..., Any], function: Callable[..., Any], limits: Limits) -> None:
    """Give the wrapper the tool's name, docstring and signature (minus `call`, plus `ctx`)."""
    hints = typing.get_type_hints(function, include_extras=True)
    parameters = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
    for name, parameter in list(inspect.signature(function).parameters.items())[1:]:
        annotation, default = _resolve(hints[name], parameter.default, limits)
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                            default=default))
    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    wrapper.__signature__ = inspect.Signature(parameters, return_annotation=hints["return"])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": hints["return"]}


def _resolve(annotation: Any, default: Any, limits: Limits) -> tuple[Any, Any]:
    """Replace a `FromLimits` marker by the bound and default it names."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation, default
    base, *metadata = typing.get_args(annotation)
    markers = [m for m in metadata if isinstance(m, FromLimits)]
    if not markers:
        return annotation, default
    marker = markers[0]
    extra = Field(le=getattr(limits, marker.le)) if marker.le else None
    if marker.default:  # a real default: null is no longer a value the schema accepts
        default = getattr(limits, marker.default)
        base = typing.Union[tuple(a for a in typing.get_args(base) if a is not type(None)) or (base,)]  # noqa: UP007
    kept = [m for m in metadata if not isinstance(m, FromLimits)] + ([extra] if extra is not None else [])
    return Annotated[(base, *kept)], default


def short_validation_error(tool: str, exc: ValidationError) -> str:
    """One short line per bad argument: which one, and what is accepted (never pydantic's dump)."""
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        name = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "missing":
            parts.append(f"missing required argument {name}")
        else:
            parts.append(f"invalid {name}: {_accepted(error)}")
    return f"{tool}: " + "; ".join(parts)


def _accepted(error: Any) -> str:
    message = str(error["msg"])
    got = repr(error.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"{message[0].lower()}{message[1:]} (got {got})"
