"""``ClaudeCodeEngine``: runs one completion on a live Claude Code process and yields neutral events.

Owns capacity (a slot per running request), the request's deadlines (overall ``timeout`` and ``idle_timeout``;
the CLI bounds neither a stalled stream nor, by default, its retries), and the decision whether the process may
be reused afterwards (``turn.py`` runs the turn itself). Every exit path (success, error, timeout, client
gone) ends in ``finally``, which returns the process to the pool, parks it, or kills it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio
from claude_agent_sdk import ClaudeSDKError, CLIJSONDecodeError, CLINotFoundError

from claude_code_api.core.events import Event
from claude_code_api.core.request import CompletionRequest
from claude_code_api.engine.base import Readiness
from claude_code_api.engine.capacity import Capacity
from claude_code_api.engine.claude.agent import SHELL_TOOLS, sandbox_problem
from claude_code_api.engine.claude.options import base_env, resolve_cli_path
from claude_code_api.engine.claude.pool import SessionPool
from claude_code_api.engine.claude.turn import TurnRun
from claude_code_api.errors import EngineUnavailable, Timeout
from claude_code_api.private_files import ensure_private_dir
from claude_code_api.settings import Settings

log = logging.getLogger(__name__)


class ClaudeCodeEngine:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool = SessionPool(settings)
        self._capacity = Capacity(settings.max_processes, settings.max_queue, settings.queue_timeout)
        self._facts = CliFacts(settings)
        self.agent_status = agent_status(settings)

    async def start(self) -> None:
        if self.agent_status.get("sandbox") == "unavailable":
            raise AgentModeRefused(self.agent_status["error"])
        ensure_private_dir(self._settings.data_dir)
        await self._pool.start()

    async def aclose(self) -> None:
        await self._facts.aclose()
        await self._pool.aclose()

    def stats(self) -> dict[str, int]:
        return {**self._pool.stats(), "running": self._capacity.running, "queued": self._capacity.waiting}

    def live_pids(self) -> list[int]:
        return self._pool.live_pids()

    def busy_pids(self) -> list[int]:
        return self._pool.busy_pids()

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Event]:
        async with self._capacity.slot():
            session = await self._pool.acquire(request)
            turn = TurnRun(session, request)
            finished = False
            try:
                async for event in self._run_turn(turn):
                    yield event
                finished = True
            except ClaudeSDKError as exc:  # the one seam where the SDK's errors become the server's own
                raise process_failure(exc) from exc
            finally:
                # Shielded: a cancelled request (client gone) must still kill its process and clean up.
                with anyio.CancelScope(shield=True):
                    await self._pool.settle(session, turn.outcome if finished else None)

    async def _run_turn(self, turn: TurnRun) -> AsyncIterator[Event]:
        await turn.begin()
        messages = turn.session.messages()
        deadline = time.monotonic() + self._settings.timeout
        try:
            while not turn.done:
                if turn.stops_at_tool_calls:
                    for event in turn.park():
                        yield event
                    return
                for event in await turn.feed(await self._next_message(messages, deadline)):
                    yield event
            for event in turn.closing_events():
                yield event
        finally:
            await messages.aclose()

    async def _next_message(self, messages: AsyncGenerator[Any, None], deadline: float) -> Any:
        remaining = deadline - time.monotonic()
        wait = min(self._settings.idle_timeout, remaining)
        if wait <= 0:
            raise Timeout(f"Claude Code did not finish within {self._settings.timeout:g} s.")
        try:
            return await asyncio.wait_for(messages.__anext__(), wait)
        except asyncio.TimeoutError:
            if wait < self._settings.idle_timeout:
                raise Timeout(f"Claude Code did not finish within {self._settings.timeout:g} s.") from None
            raise Timeout(f"Claude Code produced no output for {self._settings.idle_timeout:g} s.") from None
        except StopAsyncIteration:
            raise EngineUnavailable("Claude Code exited before it finished the answer.") from None

    async def readiness(self) -> Readiness:
        """From cached facts (the CLI's version and login): checking them starts the CLI twice (~0.3 s), so a probe
        gets the last known facts and a stale fact is refreshed in the background, after the answer. Agent mode's
        status is fixed at start-up."""
        facts = await self._facts.current()
        return Readiness(facts.ready, {**facts.detail, "agent": self.agent_status})


class CliFacts:
    """The CLI's path, version and login, checked on first use and then refreshed in the background once stale
    (after ``FRESH`` seconds, or ``FRESH_NOT_READY`` while not ready: an operator who just logged in is seen soon)."""

    FRESH = 60.0
    FRESH_NOT_READY = 5.0

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._known: tuple[float, Readiness] | None = None
        self._version: tuple[str, str] | None = None  # (cli path, version): a CLI's version never changes
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    async def current(self) -> Readiness:
        if self._known is None:
            async with self._lock:
                if self._known is None:
                    await self._check()
        assert self._known is not None
        checked, readiness = self._known
        fresh = self.FRESH if readiness.ready else self.FRESH_NOT_READY
        if time.monotonic() - checked > fresh and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._check())
        return readiness

    async def aclose(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)

    async def _check(self) -> None:
        self._known = (time.monotonic(), await self._readiness())

    async def _readiness(self) -> Readiness:
        cli = resolve_cli_path(self._settings)
        if cli is None:
            return Readiness(False, {"cli": None, "error": "Claude Code CLI not found; set CLAUDE_CLI_PATH."})
        env = base_env(self._settings)
        try:
            known = self._version
            version = known[1] if known and known[0] == cli else (await _run_cli(cli, "--version", env=env)).strip()
            self._version = (cli, version)
            auth = json.loads(await _run_cli(cli, "auth", "status", "--json", env=env))
        except (OSError, asyncio.TimeoutError) as exc:
            return Readiness(False, {"cli": cli, "error": f"Claude Code did not answer: {exc!r}"})
        except ValueError:
            auth = {}
        logged_in = bool(auth.get("loggedIn"))
        detail: dict[str, Any] = {"cli": cli, "version": version, "logged_in": logged_in}
        detail["auth_method"] = auth.get("authMethod")
        if not logged_in:
            detail["error"] = "Claude Code is not logged in: run `claude login` or set ANTHROPIC_API_KEY."
        return Readiness(logged_in, detail)


class AgentModeRefused(RuntimeError):
    """Agent mode with Bash was asked for where Claude Code's sandbox cannot run: the server does not start."""


def agent_status(settings: Settings) -> dict[str, Any]:
    """Agent mode as configured, for ``/ready`` and the start-up check: on or off, its tools and whether Bash runs in
    Claude Code's sandbox ("active"), unconfined by the operator's choice ("off"), or has no sandbox to run in."""
    if not settings.agent:
        return {"enabled": False}
    status: dict[str, Any] = {"enabled": True, "tools": list(settings.agent_tools)}
    if not SHELL_TOOLS & set(settings.agent_tools):
        status["sandbox"] = "not needed (no Bash)"
    elif not settings.agent_sandbox:
        status["sandbox"] = "off"
    elif (problem := sandbox_problem()) is not None:
        status["sandbox"] = "unavailable"
        status["error"] = (
            f"Agent mode allows Bash, which must run in Claude Code's sandbox, and the sandbox cannot run here: "
            f"{problem} (or remove Bash from CLAUDE_CODE_API_AGENT_TOOLS)."
        )
    else:
        status["sandbox"] = "active"
    return status


def process_failure(exc: ClaudeSDKError) -> EngineUnavailable:
    """A Claude Code process that died or broke its protocol mid-answer: the client may retry (503)."""
    log.warning("Claude Code failed mid-answer: %s", exc)
    if isinstance(exc, CLINotFoundError):
        return EngineUnavailable(f"Claude Code cannot start: {exc}", code="cli_not_found")
    if isinstance(exc, CLIJSONDecodeError):
        return EngineUnavailable("Claude Code sent output that is not its protocol; the answer was abandoned.")
    return EngineUnavailable("Claude Code exited before it finished the answer.", code="process_exited")


async def _run_cli(cli: str, *args: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        cli,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return out.decode(errors="replace")
