"""Agent mode on a Claude Code process: its own tools, confined to one workspace directory (docs/agent.md).

The server enforces the confinement itself, not only through Claude Code's settings: every tool call passes
``WorkspaceGuard.decide`` twice over, in a ``PreToolUse`` hook (which the CLI runs for every call, including the
reads it would allow on its own) and in the permission callback claude-agent-sdk offers (``can_use_tool``, for
the calls the CLI asks about). A path that resolves outside the workspace (a symlink that leads out counts as
outside) is denied, and so is any tool the request was not given. Bash cannot be checked path by path: it runs
only inside Claude Code's own sandbox (bubblewrap on Linux), unless the operator explicitly turned that off.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from claude_agent_sdk import (
    ClaudeAgentOptions,
    HookContext,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)
from claude_agent_sdk.types import PermissionResult, SyncHookJSONOutput

from claude_code_api.core.request import AgentSpec

# The input fields that name a file or directory, by tool; an unknown tool's fields of these names are checked too.
PATH_FIELDS = {
    "Read": ("file_path",),
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path",),
    "Glob": ("path",),
    "Grep": ("path",),
    "LS": ("path",),
}
_GENERIC_PATH_FIELDS = ("file_path", "notebook_path", "path")
# Glob patterns are paths too: they must stay relative and below the search directory.
PATTERN_FIELDS = {"Glob": ("pattern",), "Grep": ("glob",)}
SHELL_TOOLS = frozenset({"Bash"})


class WorkspaceGuard:
    """Decides every tool call of one agent process: allowed tools only, paths inside ``root`` only."""

    def __init__(self, root: Path, tools: tuple[str, ...]) -> None:
        self.root = root.resolve()
        self.tools = frozenset(tools)

    def decide(self, tool_name: str, tool_input: Mapping[str, Any]) -> str | None:
        """None to allow, else the reason the call is denied (Claude reads it as the tool's error)."""
        if tool_name not in self.tools:
            return f"{tool_name} is not available in this workspace."
        for field in PATH_FIELDS.get(tool_name, _GENERIC_PATH_FIELDS):
            value = tool_input.get(field)
            if isinstance(value, str) and value and not self._inside(value):
                return f"{value} is outside the workspace; only files under {self.root} may be used."
        for field in PATTERN_FIELDS.get(tool_name, ()):
            value = tool_input.get(field)
            if isinstance(value, str) and (value.startswith(("/", "~")) or ".." in PurePosixPath(value).parts):
                return f"The pattern {value} reaches outside the workspace; use a pattern relative to it."
        return None

    def _inside(self, value: str) -> bool:
        if "\x00" in value or value.startswith("~"):
            return False
        path = Path(value) if value.startswith("/") else self.root / value
        try:
            path.resolve().relative_to(self.root)
        except (ValueError, OSError, RuntimeError):
            return False
        return True

    async def can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        reason = self.decide(tool_name, tool_input)
        return PermissionResultAllow() if reason is None else PermissionResultDeny(message=reason)

    async def pre_tool_use(self, hook_input: Any, tool_use_id: str | None, context: HookContext) -> SyncHookJSONOutput:
        reason = self.decide(str(hook_input.get("tool_name", "")), hook_input.get("tool_input") or {})
        if reason is None:
            return {}
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }


def apply_agent(options: ClaudeAgentOptions, spec: AgentSpec, *, sandbox: bool, protected: Sequence[str] = ()) -> None:
    """Make ``options`` an agent process of ``spec``: its tools, the workspace as cwd, the guard on every call.
    ``protected``: directories Bash may not even read (the server's data, Claude Code's login)."""
    guard = WorkspaceGuard(Path(spec.directory), spec.tools)
    options.tools = list(spec.tools)
    options.cwd = spec.directory
    options.max_turns = spec.max_turns
    # "default" asks (through can_use_tool) for whatever it would not do on its own; never "bypassPermissions".
    options.permission_mode = "default"
    options.can_use_tool = guard.can_use_tool
    options.hooks = {"PreToolUse": [HookMatcher(matcher=None, hooks=[guard.pre_tool_use])]}
    options.extra_args["permission-prompt-tool"] = "stdio"  # see ClientTools.apply: the session's own transport
    # --bare offers only Read and Edit of the file tools (CLI 2.1.332), so agent processes run without it.
    options.extra_args.pop("bare", None)
    # In place of chat mode's settings (built-in plugins off): an agent keeps Claude Code's built-in plugins, such as
    # its AGENTS.md reader, which serve work in a repository.
    options.settings = json.dumps(agent_settings(spec, sandbox=sandbox, protected=protected))


def agent_settings(spec: AgentSpec, *, sandbox: bool, protected: Sequence[str] = ()) -> dict[str, Any]:
    """Claude Code's own settings for an agent process: its sandbox for Bash (required: the CLI refuses to run
    a command unsandboxed), writes limited to the workspace, and no reads of ``protected`` directories (other
    keys' workspaces and transcripts, Claude Code's credentials) except the workspace itself."""
    if not (sandbox and SHELL_TOOLS & set(spec.tools)):
        return {}
    return {
        "sandbox": {
            "enabled": True,
            "failIfUnavailable": True,
            "allowUnsandboxedCommands": False,
            "autoAllowBashIfSandboxed": False,  # every command still passes the server's permission callback
            "filesystem": {
                "allowWrite": [spec.directory],
                "denyRead": list(protected),
                "allowRead": [spec.directory],
            },
        }
    }


def sandbox_problem() -> str | None:
    """Why Claude Code's sandbox cannot run here (None: it can). Linux needs bubblewrap, able to create its
    namespaces, and socat (CLI 2.1.332)."""
    missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not found: Claude Code's sandbox needs bubblewrap and socat "
            "(apt-get install bubblewrap socat)."
        )
    bwrap = shutil.which("bwrap") or "bwrap"
    try:
        probe = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot start: {exc}"
    if probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip() or f"exit status {probe.returncode}"
        return f"bubblewrap cannot create its sandbox here: {detail}"
    return None
