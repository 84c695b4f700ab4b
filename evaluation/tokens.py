"""Token ids and log-probabilities from an OpenAI-compatible chat-completions endpoint.

Asked for with `medgym eval --capture-tokens`, using the request fields of vLLM's OpenAI-compatible
server (`vllm/entrypoints/openai/chat_completion/protocol.py`, `ChatCompletionRequest`):
- `logprobs: true`, `top_logprobs: 0`: the OpenAI fields; each choice's `logprobs.content[]` holds
  `{token, logprob, bytes, top_logprobs}` per generated token;
- `return_token_ids: true` (vLLM): the response's `prompt_token_ids` (the prompt after the chat
  template) and each choice's `token_ids` (the completion);
- `return_tokens_as_token_ids: true` (vLLM): each `logprobs.content[].token` reads `token_id:<id>`,
  which gives the completion's ids also from a vLLM without `return_token_ids`.
Hosted APIs that reject unknown fields (OpenAI's) must be run without the flag. What comes back is
kept beside the transcript (`trajectory.turns`), never in the messages sent back to the endpoint.
"""

from __future__ import annotations

from typing import Any

from trajectory.turns import TurnTokens

CAPTURE_FIELDS: dict[str, Any] = {"logprobs": True, "top_logprobs": 0, "return_token_ids": True,
                                  "return_tokens_as_token_ids": True}
TOKEN_ID_PREFIX = "token_id:"


def turn_tokens(response: dict[str, Any]) -> TurnTokens:
    """What a (non-streamed) chat-completion response says about tokens; fields it lacks are None."""
    choice = (response.get("choices") or [{}])[0]
    content = (choice.get("logprobs") or {}).get("content") or None
    usage = response.get("usage") or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    return TurnTokens(
        prompt_token_ids=_ints(response.get("prompt_token_ids")),
        completion_token_ids=_ints(choice.get("token_ids")) or _ids_from_logprobs(content),
        logprobs=[float(entry["logprob"]) for entry in content] if content else None,
        prompt_tokens=_int(usage.get("prompt_tokens")), completion_tokens=_int(usage.get("completion_tokens")),
        cached_tokens=_int(cached))


def _ids_from_logprobs(content: list[dict[str, Any]] | None) -> list[int] | None:
    """The ids of `token_id:<id>` tokens (vLLM's return_tokens_as_token_ids); None unless all are."""
    if not content:
        return None
    tokens = [str(entry.get("token", "")) for entry in content]
    if not all(t.startswith(TOKEN_ID_PREFIX) and t[len(TOKEN_ID_PREFIX):].isdigit() for t in tokens):
        return None
    return [int(t[len(TOKEN_ID_PREFIX):]) for t in tokens]


def _ints(value: object) -> list[int] | None:
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
