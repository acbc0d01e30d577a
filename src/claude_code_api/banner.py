"""The start-up banner ``serve`` prints: where to point clients (OpenAI-style and Anthropic SDKs), whether a key is
needed, how Claude Code is authenticated (or the one command that fixes it), a few model names, the process limits
and the console URL.

A pure function of its inputs, so a unit test can read it without starting anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_code_api import __version__
from claude_code_api.doctor import AuthInfo
from claude_code_api.settings import Settings

_SHOWN_MODELS = 4
_ANY_ADDRESS = {"0.0.0.0", "::", ""}


def base_url(host: str, port: int) -> str:
    """The URL a client on this machine uses: a wildcard bind is reached as localhost; IPv6 needs brackets."""
    shown = "localhost" if host in _ANY_ADDRESS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def startup_banner(settings: Settings, *, keys_on: bool, auth: AuthInfo, models: Sequence[str]) -> list[str]:
    url = base_url(settings.host, settings.port)
    wildcard = " (listening on all interfaces)" if settings.host in _ANY_ADDRESS else ""
    access = "API key required: Authorization: Bearer KEY, or x-api-key" if keys_on else "open: no API key needed"
    claude = auth.detail if auth.method else f"NOT READY: {auth.detail}; fix: {auth.fix}"
    names = ", ".join(models[:_SHOWN_MODELS]) + (
        f" and {len(models) - _SHOWN_MODELS} more" if len(models) > _SHOWN_MODELS else ""
    )
    limits = f"up to {settings.max_processes} Claude Code processes at once, {settings.max_queue} may queue"
    console = f"{url}/console" if settings.console_enabled else "off (CLAUDE_CODE_API_CONSOLE_ENABLED=false)"
    return [
        f"claude-code-api {__version__}",
        f"  Point clients at  {url}/v1{wildcard}  ({access})",
        # Anthropic SDKs append /v1/messages themselves: the commonest first-run 404 is a base URL ending in /v1
        f"  Anthropic SDKs    {url}  (base URL without /v1)",
        f"  Claude Code       {claude}",
        f"  Models            {names}",
        f"  Capacity          {limits}",
        f"  Console           {console}",
    ]
