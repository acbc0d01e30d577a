"""OpenAI Responses API request model (``CreateResponse``), lenient like every request model here.

Only the fields this server reads are typed; everything else a client sends (``include``, ``service_tier``,
``prompt_cache_key``…) is accepted and ignored. Response objects and stream events are plain JSON built in
``render.py`` (their shapes are pinned by OpenAI's schema in the tests). This module imports only pydantic.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ReasoningParam(_Lenient):
    effort: str | None = None
    summary: str | None = None


class TextParam(_Lenient):
    format: dict[str, Any] | None = None


class CreateResponse(_Lenient):
    model: str
    input: str | list[dict[str, Any]] = Field(min_length=1)
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextParam | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    reasoning: ReasoningParam | None = None
    metadata: dict[str, str] | None = None
    truncation: str | None = None
    user: str | None = None
    claude_code: Any = None  # agent mode (frontends/agent.py)
    # Accepted and ignored (the CLI has no way to honour them); echoed back as OpenAI does.
    temperature: float | None = None
    top_p: float | None = None
