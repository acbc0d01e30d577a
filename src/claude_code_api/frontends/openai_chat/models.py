"""OpenAI Chat Completions wire models (request, response, chunk, usage).

Shapes follow the OpenAI spec and openai-python's types. Requests accept unknown fields (clients send
many); responses always carry the spec's required nullable keys (``refusal``, ``logprobs``) and never a
null ``system_fingerprint``. This module imports only pydantic.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionCall(_Lenient):
    name: str
    arguments: str = ""


class ToolCall(_Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class FunctionDefinition(_Lenient):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(_Lenient):
    type: str = "function"
    function: FunctionDefinition | None = None


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=8)
    stop: str | list[str] | None = None
    reasoning_effort: str | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    claude_code: Any = None  # agent mode (frontends/agent.py)
    response_format: dict[str, Any] | None = None
    # Accepted and ignored (the CLI has no way to honour them); listed so the README table stays true.
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    user: str | None = None


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails = Field(default_factory=PromptTokensDetails)
    completion_tokens_details: CompletionTokensDetails = Field(default_factory=CompletionTokensDetails)
    cost_usd: float | None = None  # what Claude Code priced the answer at (an extension; streams have no header)


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    claude_code: dict[str, Any] | None = None  # agent mode: {"activity": [...]} (docs/agent.md)


class Choice(BaseModel):
    index: int
    message: ResponseMessage
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ToolCallFunctionDelta(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ToolCallFunctionDelta


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    claude_code: dict[str, Any] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    logprobs: None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


def dump_chunk(chunk: ChatCompletionChunk, *, include_usage_key: bool) -> str:
    """Serialize a chunk: unset delta fields are omitted, but ``finish_reason``/``logprobs`` stay null.

    With ``include_usage`` every chunk carries ``"usage": null`` except the final usage chunk.
    """
    data = chunk.model_dump(exclude={"usage"} if chunk.usage is None else set())
    for choice in data["choices"]:
        choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
        for call in choice["delta"].get("tool_calls", []):
            for key in ("id", "type"):
                if call[key] is None:
                    del call[key]
            call["function"] = {k: v for k, v in call["function"].items() if v is not None}
    if include_usage_key and chunk.usage is None:
        data["usage"] = None
    _drop_unpriced(data.get("usage"))
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _drop_unpriced(usage: dict[str, Any] | None) -> None:
    if usage is not None and usage.get("cost_usd") is None:
        usage.pop("cost_usd", None)


def dump_completion(completion: ChatCompletion) -> dict[str, Any]:
    """Serialize a completion, leaving out ``tool_calls``/``reasoning_content``/``claude_code`` when there are none."""
    data = completion.model_dump()
    _drop_unpriced(data["usage"])
    for choice in data["choices"]:
        for key in ("tool_calls", "reasoning_content", "claude_code"):
            if choice["message"][key] is None:
                del choice["message"][key]
    return data
