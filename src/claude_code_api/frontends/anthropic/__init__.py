"""The Anthropic Messages front end: ``POST /v1/messages`` and ``/v1/messages/count_tokens``, Claude's own
dialect, the lossless one (content blocks, signed thinking, tool_use ids, cache usage, stop sequences)."""

from __future__ import annotations

from claude_code_api.frontends.anthropic.errors import AnthropicErrors
from claude_code_api.frontends.anthropic.models import CountTokensRequest, MessagesRequest
from claude_code_api.frontends.anthropic.routes import router
from claude_code_api.frontends.base import Frontend


def frontend() -> Frontend:
    return Frontend("anthropic", router, ("/v1/messages",), AnthropicErrors(), (MessagesRequest, CountTokensRequest))
