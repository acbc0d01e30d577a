"""``claude-code-api doctor``: checks everything a first run depends on, one line per check, each with its fix.

Owns the checks (Claude Code found and pinned, how it is authenticated, one real call through the same engine the
server uses, the data directory, the port, Redis, memory against ``max_processes``) and their text and JSON
rendering. It also owns ``describe_auth``, which the start-up banner shares. A check never prints a secret: keys
and tokens are named by the variable that holds them, and URLs lose their user-info.

A check that blocks serving is ``fail`` (the command exits 1); one that works but deserves attention is ``warn``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import stat
import time
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import redis

from claude_code_api.core.events import Completed, TextDelta
from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.engine.claude.engine import ClaudeCodeEngine, agent_status
from claude_code_api.engine.claude.options import base_env, resolve_cli_path
from claude_code_api.engine.claude.transcript import CLI_VERSION
from claude_code_api.errors import ApiError, EngineUnavailable
from claude_code_api.settings import PSS_PER_PROCESS_MB, Settings

Status = Literal["ok", "warn", "fail", "skip"]
PROCESS_MB = PSS_PER_PROCESS_MB  # one live Claude Code process's own memory (PSS), measured on the pinned CLI
CALL_DEADLINE = 30.0  # the test call's bound: a cold start plus one short answer take a few seconds
LOGIN_FIX = "run `claude login` as the user that runs the server, or set ANTHROPIC_API_KEY"
_MARKS: dict[Status, str] = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]", "skip": "[skip]"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class AuthInfo:
    """How Claude Code authenticates: ``method`` is None when it cannot (then ``fix`` says what to do)."""

    method: str | None
    detail: str
    fix: str | None = None


def redact_url(url: str) -> str:
    """The URL without user name or password (a Redis or gateway URL may carry them)."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def run_cli(cli: str, *args: str, env: Mapping[str, str], timeout: float = 15.0) -> tuple[int, str]:
    """Run the CLI (no shell) and return its exit status and stdout; the child is reaped on every path."""
    process = await asyncio.create_subprocess_exec(
        cli,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=dict(env),
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out.decode(errors="replace")


def _gateway(env: Mapping[str, str]) -> str:
    url = env.get("ANTHROPIC_BASE_URL")
    return f" through the gateway at {redact_url(url)}" if url else ""


def auth_from_status(status: Mapping[str, Any], env: Mapping[str, str]) -> AuthInfo:
    """Name the method ``claude auth status --json`` reports, without any secret."""
    via = _gateway(env)
    provider = status.get("apiProvider")
    if provider and provider != "firstParty":
        return AuthInfo(str(provider), f"{provider} credentials{via}")
    if not status.get("loggedIn"):
        return AuthInfo(None, f"not authenticated{via}", LOGIN_FIX)
    method = str(status.get("authMethod") or "unknown")
    if method == "api_key":
        source = status.get("apiKeySource") or "an API key"
        return AuthInfo(method, f"API key from {source}{via}")
    if method == "oauth_token":
        return AuthInfo(method, f"OAuth token (CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_AUTH_TOKEN){via}")
    if method == "claude.ai":
        return AuthInfo(method, f"`claude login` (Claude subscription){via}")
    return AuthInfo(method, f"{method}{via}")


async def describe_auth(settings: Settings) -> AuthInfo:
    """Ask the CLI, with the environment the server gives it, how it would authenticate."""
    cli = resolve_cli_path(settings)
    if cli is None:
        return AuthInfo(None, "Claude Code not found", "see `claude-code-api doctor`")
    env = base_env(settings)
    try:
        _, out = await run_cli(cli, "auth", "status", "--json", env=env)
        status = json.loads(out)
    except (OSError, ValueError, asyncio.TimeoutError) as exc:
        return AuthInfo(None, f"`claude auth status` failed ({type(exc).__name__})", LOGIN_FIX)
    return auth_from_status(status if isinstance(status, dict) else {}, env)


async def check_cli(settings: Settings) -> Check:
    cli = resolve_cli_path(settings)
    fix = "reinstall claude-code-api (its claude-agent-sdk bundles the CLI), or set CLAUDE_CODE_API_CLI_PATH"
    if cli is None:
        return Check("Claude Code", "fail", "not found (no bundled CLI, none on PATH)", fix)
    if not os.access(cli, os.X_OK):
        return Check("Claude Code", "fail", f"{cli} does not exist or is not executable", fix)
    try:
        _, out = await run_cli(cli, "--version", env=base_env(settings))
    except (OSError, asyncio.TimeoutError) as exc:
        return Check("Claude Code", "fail", f"{cli} does not run ({type(exc).__name__})", fix)
    version = out.split()[0] if out.split() else "unknown"
    if version != CLI_VERSION:
        unpinned = f"use the bundled CLI {CLI_VERSION} (unset CLAUDE_CODE_API_CLI_PATH); other versions are untested"
        return Check("Claude Code", "warn", f"{cli}, version {version}, not the pinned {CLI_VERSION}", unpinned)
    return Check("Claude Code", "ok", f"{cli}, version {version} (the pinned one)")


async def check_auth(settings: Settings) -> Check:
    auth = await describe_auth(settings)
    return Check("Authentication", "ok" if auth.method else "fail", auth.detail, auth.fix)


def check_data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK | os.X_OK):
            return Check("Data directory", "ok", f"{path} (will be created, mode 0700)")
        return Check("Data directory", "fail", f"{path} cannot be created", f"create it: mkdir -m 700 -p {path}")
    if not path.is_dir():
        return Check("Data directory", "fail", f"{path} is not a directory", "set CLAUDE_CODE_API_DATA_DIR")
    if not os.access(path, os.W_OK | os.X_OK):
        return Check(
            "Data directory", "fail", f"{path} is not writable", f"chown it to this user, or chmod u+rwx {path}"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Keys' hashes, usage and conversation transcripts live here: nobody else should read them.
        detail = f"{path} has mode {mode:04o}: other users can read it"
        return Check("Data directory", "warn", detail, f"chmod 700 {path}")
    return Check("Data directory", "ok", f"{path} (mode {mode:04o})")


def check_port(settings: Settings) -> Check:
    where = f"{settings.host}:{settings.port}"
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            sock.bind((settings.host, settings.port))
        except OSError as exc:
            reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            fix = "stop what listens there, or choose another: --port N (or API_PORT)"
            return Check("Port", "fail", f"{where}: {reason}", fix)
    return Check("Port", "ok", f"{where} is free")


def check_redis(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("Redis", "skip", "not configured (SQLite in the data directory)")
    where = redact_url(settings.redis_url)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        fix = "start Redis, or fix/unset CLAUDE_CODE_API_REDIS_URL"
        return Check("Redis", "fail", f"{where} does not answer: {type(exc).__name__}", fix)
    finally:
        client.close()
    return Check("Redis", "ok", f"{where} answers")


def available_mb(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(settings: Settings, available: int | None) -> Check:
    need = settings.max_processes * PROCESS_MB
    budget = settings.pool_max_memory_mb
    limit = f"max_processes={settings.max_processes} needs ~{need} MiB (memory budget {budget} MiB PSS)"
    if available is None:
        return Check("Memory", "skip", f"{limit}; available memory unknown")
    if need > available:
        fits = max(1, available // PROCESS_MB)
        fix = f"set CLAUDE_CODE_API_MAX_PROCESSES={fits} (or free memory)"
        return Check("Memory", "warn", f"{limit}, only {available} MiB available", fix)
    return Check("Memory", "ok", f"{limit}; {available} MiB available")


def check_agent_mode(settings: Settings) -> Check:
    """Agent mode, its tools and, when Bash is allowed, whether Claude Code's sandbox can run (the server refuses
    to start agent mode with Bash where it cannot)."""
    status = agent_status(settings)
    if not status["enabled"]:
        return Check("Agent mode", "skip", "off (chat mode only); turn it on with CLAUDE_CODE_API_AGENT=true")
    detail = f"on: tools {', '.join(status['tools'])}; workspaces in {settings.workspaces_dir}"
    if status["sandbox"] == "unavailable":
        return Check("Agent mode", "fail", f"{detail}; {status['error']}", "apt-get install bubblewrap socat")
    if status["sandbox"] == "off":
        fix = "set CLAUDE_CODE_API_AGENT_SANDBOX=true, or remove Bash from CLAUDE_CODE_API_AGENT_TOOLS"
        return Check("Agent mode", "warn", f"{detail}; Bash runs WITHOUT a sandbox (operator's choice)", fix)
    return Check("Agent mode", "ok", f"{detail}; Bash sandbox: {status['sandbox']}")


async def test_call(settings: Settings, deadline: float) -> Check:
    """One tiny completion through the engine the server uses, so every layer down to Claude is exercised."""
    model = ModelRegistry.build(settings.model_aliases).resolve("haiku")
    prompt = Turn("user", ({"type": "text", "text": "Reply with the single word: ready"},))
    request = CompletionRequest(model=model, system="Answer in one word.", history=(), prompt=prompt)
    # Only the call itself: no spare started ahead (it would be timed too), no transcript left in the server's store.
    engine = ClaudeCodeEngine(settings.model_copy(update={"pool_prestart": False, "transcript_store": False}))
    started = time.monotonic()
    try:
        await engine.start()
        answer, completed = await asyncio.wait_for(_collect(engine, request), deadline)
    except ApiError as exc:
        return Check("Test call", "fail", f"{type(exc).__name__}: {exc}", "fix the checks above, then retry")
    except asyncio.TimeoutError:
        fix = "check the network or the gateway; skip this check with --no-call"
        return Check("Test call", "fail", f"no answer within {deadline:g} s", fix)
    finally:
        await engine.aclose()
    took = time.monotonic() - started
    usage = completed.usage
    tokens = f"{usage.input_tokens} in / {usage.output_tokens} out"
    return Check("Test call", "ok", f"{model} answered {answer!r} in {took:.1f} s ({tokens} tokens)")


async def _collect(engine: ClaudeCodeEngine, request: CompletionRequest) -> tuple[str, Completed]:
    text: list[str] = []
    async with aclosing(engine.stream(request)) as stream:  # type: ignore[type-var]
        async for event in stream:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, Completed):
                return "".join(text).strip()[:60], event
    raise EngineUnavailable("Claude Code ended without an answer.")


async def run_checks(settings: Settings, *, call: bool = True, call_deadline: float = CALL_DEADLINE) -> list[Check]:
    """Every check in order; the test call runs only when the CLI and its login look usable."""
    checks = [await check_cli(settings), await check_auth(settings), check_data_dir(settings)]
    if not call:
        checks.append(Check("Test call", "skip", "skipped (--no-call)"))
    elif any(c.status == "fail" for c in checks):
        checks.append(Check("Test call", "skip", "skipped: fix the failures above first"))
    else:
        checks.append(await test_call(settings, call_deadline))
    simple: list[Callable[[], Check]] = [
        lambda: check_port(settings),
        lambda: check_redis(settings),
        lambda: check_memory(settings, available_mb()),
        lambda: check_agent_mode(settings),
    ]
    checks += [await asyncio.to_thread(f) for f in simple]
    return checks


def blocking(checks: list[Check]) -> bool:
    return any(c.status == "fail" for c in checks)


def render_text(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines: list[str] = []
    for c in checks:
        lines.append(f"{_MARKS[c.status]} {c.name.ljust(width)}  {c.detail}")
        if c.fix:
            lines.append(f"       {' ' * width}  fix: {c.fix}")
    verdict = "something blocks serving: see FAIL above" if blocking(checks) else "ready to serve"
    lines.append(verdict)
    return "\n".join(lines)


def render_json(checks: list[Check]) -> str:
    return json.dumps({"ok": not blocking(checks), "checks": [asdict(c) for c in checks]}, indent=2)


def doctor(settings: Settings, *, call: bool, as_json: bool, call_deadline: float = CALL_DEADLINE) -> tuple[int, str]:
    """Run the checks; return the exit status (1 when something blocks serving) and the report."""
    checks = asyncio.run(run_checks(settings, call=call, call_deadline=call_deadline))
    report = render_json(checks) if as_json else render_text(checks)
    return (1 if blocking(checks) else 0), report
