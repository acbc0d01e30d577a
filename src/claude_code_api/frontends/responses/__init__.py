"""The OpenAI Responses front end: ``/v1/responses`` with stored responses (``previous_response_id``)."""

from __future__ import annotations

from claude_code_api.frontends.base import Frontend
from claude_code_api.frontends.responses.models import CreateResponse
from claude_code_api.frontends.responses.routes import router
from claude_code_api.http.errors import OpenAIErrors


def frontend() -> Frontend:
    return Frontend("responses", router, ("/v1/responses",), OpenAIErrors(), (CreateResponse,))
