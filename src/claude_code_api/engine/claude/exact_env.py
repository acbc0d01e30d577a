"""The environment a Claude Code process starts with is the one ``options.env`` holds, not the server's.

claude-agent-sdk builds a child's environment as ``{**os.environ, **options.env, <its own protocol variables>}``
(``SubprocessCLITransport.connect``), so a filter in ``options.py:base_env`` alone cannot withhold anything: the
server's keys, admin key and Redis URL would reach every Claude Code process (and whatever it runs). The SDK offers
no option to stop inheriting, and copying its ``connect`` would copy its private stream and cleanup handling. So the
one call that starts the process, ``anyio.open_process`` as the SDK module sees it, is wrapped: inside
``exact_env(options.env)`` (a context variable, so concurrent connects do not mix) every variable inherited unchanged
from ``os.environ`` that ``options.env`` did not ask for is dropped. What the SDK sets for its protocol
(``CLAUDE_CODE_ENTRYPOINT``, ``CLAUDE_AGENT_SDK_VERSION``, ``PWD``...) stays; the wrapper changes nothing outside it.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import anyio
from claude_agent_sdk._internal.transport import subprocess_cli

_asked: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("cca_child_env", default=None)


def only_asked(merged: Mapping[str, str], asked: Mapping[str, str], inherited: Mapping[str, str]) -> dict[str, str]:
    """``merged`` minus what came from ``inherited`` unchanged without being in ``asked``."""
    return {k: v for k, v in merged.items() if k in asked or inherited.get(k) != v}


class _AnyioForSdk:
    """``anyio`` as the SDK's transport module sees it: the same module, but ``open_process`` honours ``exact_env``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(anyio, name)

    async def open_process(self, command: Any, **kwargs: Any) -> Any:
        asked = _asked.get()
        env = kwargs.get("env")
        if asked is not None and env is not None:
            kwargs["env"] = only_asked(env, asked, os.environ)
        return await anyio.open_process(command, **kwargs)


def _install() -> None:
    if not isinstance(getattr(subprocess_cli, "anyio", None), _AnyioForSdk):
        setattr(subprocess_cli, "anyio", _AnyioForSdk())  # noqa: B010 - the module does not export the name


@contextmanager
def exact_env(asked: Mapping[str, str]) -> Iterator[None]:
    """Processes the SDK starts in this context get ``asked`` (plus the SDK's own variables), nothing inherited."""
    _install()
    token = _asked.set(dict(asked))
    try:
        yield
    finally:
        _asked.reset(token)
