"""Anthropic Messages API wire models (request side) and the shapes of what is sent back.

Requests accept unknown fields (clients send many, and send a response's own content back as the next turn's
history, ``citations``, ``caller`` and all). Blocks stay plain dicts here; ``convert.py`` checks each one and names
the offending field. This module imports only pydantic.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputMessage(_Lenient):
    role: Literal["user", "assistant", "system"]
    content: str | list[dict[str, Any]]


class _MessagesBase(_Lenient):
    model: str
    messages: list[InputMessage] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    claude_code: Any = None  # agent mode (frontends/agent.py)
    output_config: dict[str, Any] | None = None


class MessagesRequest(_MessagesBase):
    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    stream: bool = False
    metadata: dict[str, Any] | None = None
    # Accepted and ignored (Claude Code has no way to pass them on); listed so the README table stays true.
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    service_tier: str | None = None


class CountTokensRequest(_MessagesBase):
    pass
