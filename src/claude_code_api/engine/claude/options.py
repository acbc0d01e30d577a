"""How a Claude Code process is configured for one request configuration: its flags, environment and private
files (``SessionPaths.create`` writes the scratch directory and the system prompt file).

Chat mode: no built-in tools, no host settings/hooks/MCP servers, a private scratch cwd, and the system
prompt in a file (never on argv, where other users could read it). The user's own login keeps working
because the CLI's config dir is left alone unless the operator sets one. Agent mode (``engine/claude/agent.py``)
changes the tools, the cwd (the workspace) and the permissions of the same options.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import claude_agent_sdk
from claude_agent_sdk import ClaudeAgentOptions

from claude_code_api.core.request import CompletionRequest
from claude_code_api.engine.claude.agent import apply_agent
from claude_code_api.engine.claude.tools import ClientTools
from claude_code_api.settings import Settings

# Variables that would make a child believe it runs inside another Claude Code session.
_STRIPPED_ENV = ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_CODE_SSE_PORT")


def bundled_cli_path() -> Path:
    return Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


def resolve_cli_path(settings: Settings) -> str | None:
    """The configured CLI, else the one bundled in the claude-agent-sdk wheel, else ``claude`` on PATH."""
    if settings.cli_path:
        return settings.cli_path
    bundled = bundled_cli_path()
    if bundled.exists():
        return str(bundled)
    return shutil.which("claude")


def config_dir(env: Mapping[str, str]) -> Path:
    """Where the CLI keeps its state (and transcripts): ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``."""
    explicit = env.get("CLAUDE_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    return Path(env.get("HOME") or str(Path.home())) / ".claude"


def project_slug(cwd: Path) -> str:
    """The CLI files a session under ``projects/<cwd with every non-alphanumeric char as '-'>``."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


def use_bare_mode(settings_mode: str, env: Mapping[str, str]) -> bool:
    """``--bare`` drops Claude Code's environment reminders from prompts, but only sees ANTHROPIC_API_KEY.

    So ``auto`` uses it only when an API key is how the CLI authenticates; a ``claude login`` user keeps
    the normal mode, which reads the stored login.
    """
    if settings_mode == "always":
        return True
    if settings_mode == "never":
        return False
    return bool(env.get("ANTHROPIC_API_KEY"))


@dataclass(frozen=True)
class SessionPaths:
    """A live process's private directory: its cwd, temp dir and system prompt file."""

    root: Path

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def system_prompt_file(self) -> Path:
        return self.root / "system-prompt.txt"

    def create(self, system_prompt: str) -> None:
        self.root.mkdir(parents=True, mode=0o700)
        self.cwd.mkdir(mode=0o700)
        self.tmp.mkdir(mode=0o700)
        fd = os.open(self.system_prompt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(system_prompt)


def base_env(settings: Settings) -> dict[str, str]:
    """The server's environment (so logins, gateways, Bedrock/Vertex pass through) plus ``cli_env``, minus the
    server's own settings (keys, admin key, Redis URL), which are none of Claude Code's business.

    This is the child's whole environment: ``exact_env.py`` stops the SDK from merging ``os.environ`` back in."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV and not k.startswith("CLAUDE_CODE_API_")}
    env.update(settings.cli_env)
    return env


def child_env(settings: Settings, request: CompletionRequest, paths: SessionPaths) -> dict[str, str]:
    """The environment of a request's process: ``base_env`` plus limits and private paths."""
    env = base_env(settings)
    env.update(
        {
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_DISABLE_LEGACY_MODEL_REMAP": "1",
            "CLAUDE_AGENT_SDK_SKIP_VERSION_CHECK": "1",
            "CLAUDE_CODE_MAX_RETRIES": str(settings.upstream_max_retries),
            "API_TIMEOUT_MS": str(settings.upstream_header_timeout_ms),
            "CLAUDE_CODE_TMPDIR": str(paths.tmp),
        }
    )
    if request.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(request.max_tokens)
    else:
        env.pop("CLAUDE_CODE_MAX_OUTPUT_TOKENS", None)
    return env


def agent_options(
    settings: Settings,
    request: CompletionRequest,
    paths: SessionPaths,
    *,
    resume: str | None = None,
    extra: Mapping[str, Any] | None = None,
    tools: ClientTools | None = None,
) -> ClaudeAgentOptions:
    """``tools`` (made by the caller, who keeps it to deliver results) offers the client's functions."""
    env = child_env(settings, request, paths)
    extra_args: dict[str, str | None] = {}
    if use_bare_mode(settings.bare_mode, env):
        extra_args["bare"] = None
    options = ClaudeAgentOptions(
        tools=[],
        system_prompt={"type": "file", "path": str(paths.system_prompt_file)},
        model=request.model,
        include_partial_messages=True,
        setting_sources=[],
        strict_mcp_config=True,
        verbatim_prompts=True,
        cwd=str(paths.cwd),
        cli_path=resolve_cli_path(settings),
        env=env,
        resume=resume,
        effort=request.effort,  # type: ignore[arg-type]
        thinking=request.thinking,  # type: ignore[arg-type]
        output_format={"type": "json_schema", "schema": request.output_schema} if request.output_schema else None,
        extra_args=extra_args,
        max_buffer_size=64 * 1024 * 1024,
        settings=chat_settings(),
    )
    if tools is not None:
        tools.apply(options, wait_limit=settings.pool_idle_ttl)
    if request.agent is not None:
        protected = [str(settings.data_dir), str(settings.workspaces_dir), str(config_dir(env))]
        apply_agent(options, request.agent, sandbox=settings.agent_sandbox, protected=protected)
    for key, value in (extra or {}).items():
        setattr(options, key, value)
    return options


# The plugins built into the CLI (an AGENTS.md reader, plugin authoring, privacy) run hooks on every turn (its
# prompt-submit hook alone took 7.5-19 ms per turn, `--debug` timings); a chat request uses none of them. The
# transcript the CLI writes is its core's, not a plugin's, so the transcript store keeps working.
BUILTIN_PLUGINS = ("cc-plugin-agents-md@builtin", "cc-plugin-plugin-authoring@builtin", "cc-plugin-privacy@builtin")


def chat_settings() -> str:
    """The ``--settings`` of a chat-mode process: the CLI's built-in plugins off."""
    return json.dumps({"enabledPlugins": dict.fromkeys(BUILTIN_PLUGINS, False)})
