"""The OpenAI Chat Completions front end: ``POST /v1/chat/completions``."""

from __future__ import annotations

from claude_code_api.frontends.base import Frontend
from claude_code_api.frontends.openai_chat.models import ChatCompletionRequest
from claude_code_api.frontends.openai_chat.routes import router
from claude_code_api.http.errors import OpenAIErrors


def frontend() -> Frontend:
    return Frontend("openai_chat", router, ("/v1/chat/",), OpenAIErrors(), (ChatCompletionRequest,))
