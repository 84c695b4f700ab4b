"""A scripted OpenAI-compatible chat-completions server, for protocol tests of the openai agent.

Asked for tokens the way vLLM is (`logprobs`, `return_token_ids`, `return_tokens_as_token_ids`), it
answers as vLLM's OpenAI-compatible server does: `prompt_token_ids` beside `choices`, each choice's
`token_ids`, and `logprobs.content[]` whose tokens read `token_id:<id>`. The ids are a deterministic
function of the request (`fake_token_ids`), so tests can check what was kept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.eval_agents import constant_predictions

Script = dict[str, str]  # model name -> reference solution (for the "solver" behaviour)


def _reply(message: dict[str, Any]) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message,
                                                                  "finish_reason": "stop"}]}


def fake_token_ids(text: str, salt: int) -> list[int]:
    """Stand-in token ids for a text: one per 8 characters, from its bytes (deterministic)."""
    data = text.encode("utf-8")
    return [(sum(data[i:i + 8]) * 31 + salt) % 50_000 for i in range(0, max(len(data), 1), 8)]


def _with_tokens(reply: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Add what vLLM returns for `return_token_ids` / `logprobs` / `return_tokens_as_token_ids`."""
    choice = reply["choices"][0]
    completion = fake_token_ids(json.dumps(choice["message"], sort_keys=True), 1)
    prompt = fake_token_ids(json.dumps(body["messages"], sort_keys=True), 0)
    if body.get("return_token_ids"):
        reply["prompt_token_ids"], choice["token_ids"] = prompt, completion
    if body.get("logprobs"):
        as_ids = bool(body.get("return_tokens_as_token_ids"))
        choice["logprobs"] = {"content": [
            {"token": f"token_id:{t}" if as_ids else "x", "logprob": -0.001 * (i + 1), "bytes": None,
             "top_logprobs": []} for i, t in enumerate(completion)]}
    reply["usage"] = {"prompt_tokens": len(prompt), "completion_tokens": len(completion),
                      "total_tokens": len(prompt) + len(completion)}
    return reply


def _stream(reply: dict[str, Any]) -> bytes:
    """The reply as server-sent events (`"stream": true`): one chunk carrying the whole message, then [DONE]."""
    choice = reply["choices"][0]
    delta = {**choice["message"]}
    if delta.get("tool_calls"):
        delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(delta["tool_calls"])]
    chunk = {"id": reply["id"], "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": delta, "finish_reason": "tool_calls" if delta.get("tool_calls") else "stop"}]}
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()


def _call(name: str, arguments: dict[str, Any], n: int) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]}


def respond(model: str, messages: list[dict[str, Any]], solutions: dict[str, str]) -> dict[str, Any]:
    """Behaviour by model name: solver, explorer (inspect_data first, then as solver), wrong, chatty (never
    calls a tool), looper (runs code forever)."""
    tools_seen = [m for m in messages if m["role"] == "tool"]
    turn = sum(1 for m in messages if m["role"] == "assistant") + 1
    if model == "chatty":
        return {"role": "assistant", "content": "I think the answer is probably 42."}
    if model == "looper":
        return _call("run_code", {"code": "print('still looking')"}, turn)
    if model == "wrong":  # a prediction task gets a well-formed constant predictions file
        if (code := constant_predictions(messages[1]["content"])) and not tools_seen:
            return _call("run_code", {"code": code}, turn)
        return _call("submit_answer", {"answer": "predictions.csv" if code else -987654.321}, turn)
    task_id = messages[1]["content"].split()[1]
    if model == "explorer" and not tools_seen:  # looks at the data first (an error for tasks without data)
        return _call("inspect_data", {"action": "list_tables"}, turn)
    if len(tools_seen) < (2 if model == "explorer" else 1):
        return _call("run_code", {"code": solutions[task_id], "timeout_s": 120}, turn)
    stdout = json.loads(tools_seen[-1]["content"])["stdout"]
    return _call("submit_answer", {"answer": json.loads(stdout.strip().splitlines()[-1])}, turn)


@contextmanager
def fake_chat_server(solutions: dict[str, str]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve on a free port; yields (base URL, the requests received)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            reply = _with_tokens(_reply(respond(body["model"], body["messages"], solutions)), body)
            payload = _stream(reply) if body.get("stream") else json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if body.get("stream") else "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        server.shutdown()
