"""The OpenAI error envelope: ``{"error": {"message", "type", "param", "code"}}`` (all four keys always)."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
