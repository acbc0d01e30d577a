"""Server settings, read from the environment by pydantic-settings.

Every setting has a ``CLAUDE_CODE_API_`` variable; the names the first version documented
(``CLAUDE_TIMEOUT``, ``API_PORT``) and ``CLAUDE_CLI_PATH`` are honoured too. There is no global
instance: ``cli.py`` builds one and hands it to ``create_app``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "claude-code-api"


PSS_PER_PROCESS_MB = 150  # a live Claude Code process's own memory (PSS, measured 100-160 MiB)
PROCESSES_PER_CORE = 8  # a live process costs CPU only while it starts (~0.3 s) or runs a turn (~30 ms)
_CGROUP_MEMORY = Path("/sys/fs/cgroup/memory.max")


def _total_memory_mb() -> int | None:
    """Physical memory, or the container's cgroup limit where that is lower."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None
    try:
        limit = _CGROUP_MEMORY.read_text().strip()
    except OSError:
        return total
    return min(total, int(limit) // (1024 * 1024)) if limit.isdigit() else total


def _cores() -> int:
    """The cores this process may run on (its CPU affinity, where the platform tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _default_memory_budget_mb() -> int:
    """A quarter of the machine's memory for live Claude Code processes (PSS), at least 512 MiB."""
    total = _total_memory_mb()
    return 1024 if total is None else max(512, total // 4)


def _default_max_processes() -> int:
    """As many processes as the memory budget holds, and no more than the cores can start and run: 2 to 64."""
    by_memory = _default_memory_budget_mb() // PSS_PER_PROCESS_MB
    return max(2, min(64, by_memory, PROCESSES_PER_CORE * _cores()))


# Reading, searching and editing files, and Claude Code's task list (its tool names in CLI 2.1.332).
DEFAULT_AGENT_TOOLS = ("Read", "Glob", "Grep", "Edit", "Write", "TaskCreate", "TaskGet", "TaskList", "TaskUpdate")


def _aliases(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """All knobs of the server. See the configuration table in the README."""

    model_config = SettingsConfigDict(env_prefix="CLAUDE_CODE_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, validation_alias=_aliases("CLAUDE_CODE_API_PORT", "API_PORT"))

    # Claude Code
    cli_path: str | None = Field(None, validation_alias=_aliases("CLAUDE_CODE_API_CLI_PATH", "CLAUDE_CLI_PATH"))
    timeout: float = Field(300.0, gt=0, validation_alias=_aliases("CLAUDE_CODE_API_TIMEOUT", "CLAUDE_TIMEOUT"))
    idle_timeout: float = Field(120.0, gt=0, description="Kill a request whose Claude Code output is silent this long.")
    upstream_max_retries: int = Field(2, ge=0, description="CLAUDE_CODE_MAX_RETRIES for the CLI (its default is 10).")
    upstream_header_timeout_ms: int = Field(60_000, gt=0, description="API_TIMEOUT_MS for the CLI.")
    default_system_prompt: str = "You are a helpful assistant."
    bare_mode: Literal["auto", "always", "never"] = Field(
        "auto", description="Run the CLI with --bare (auto: when ANTHROPIC_API_KEY is set)."
    )
    model_aliases: dict[str, str] = Field(default_factory=dict, description="Extra model names, e.g. gpt-4o=sonnet.")
    expose_reasoning: bool = Field(False, description="Send thinking as reasoning_content.")
    data_dir: Path = Field(default_factory=_default_data_dir)
    cli_env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment for Claude Code only (JSON), e.g. a gateway URL."
    )

    # Capacity and the pool of live Claude Code processes
    max_processes: int = Field(default_factory=_default_max_processes, ge=1)
    max_queue: int = Field(32, ge=0, description="Requests that may wait for a free process before 429.")
    queue_timeout: float = Field(30.0, gt=0)
    pool_enabled: bool = True
    pool_idle_per_config: int = Field(
        default_factory=_default_max_processes, ge=0, description="Idle live processes kept per configuration."
    )
    pool_max_idle: int = Field(default_factory=_default_max_processes, ge=0, description="Idle live processes kept.")
    pool_idle_ttl: float = Field(600.0, gt=0, description="Seconds an idle live process is kept.")
    pool_prestart: bool = Field(True, description="Keep empty spare processes started ahead of requests.")
    pool_warm_up: bool = Field(
        True,
        description="Give each spare one turn against a loopback responder (never Claude's API) before it serves, "
        "so its first request is as fast as a warm process's.",
    )
    pool_max_memory_mb: int = Field(
        default_factory=_default_memory_budget_mb,
        ge=0,
        validation_alias=_aliases(
            "CLAUDE_CODE_API_MEMORY_BUDGET_MB", "CLAUDE_CODE_API_POOL_MAX_MEMORY_MB", "pool_max_memory_mb"
        ),
        description="Memory budget (PSS) of all live Claude Code processes; idle ones beyond it go (0: no cap).",
    )
    pool_spares: int = Field(2, ge=0, description="Empty spare processes kept warm per recently used configuration.")
    pool_prestart_model: str = Field("claude-sonnet-4", description="Model of the spares started at boot.")
    pool_recent: float = Field(
        10.0,
        ge=0,
        description="Seconds after its last answer during which a conversation's live process is not emptied into a "
        "spare for new conversations (a conversation that recent is likely mid-exchange).",
    )
    transcript_store: bool = Field(
        True, description="Keep Claude Code's own transcripts (SQLite in data_dir, or Redis) to resume conversations."
    )
    transcript_retention_hours: float = Field(168.0, gt=0, description="Hours a kept transcript may be resumed.")
    transcript_max_entries: int = Field(1000, ge=1, description="Transcripts kept in SQLite, newest first.")

    # Agent mode (docs/agent.md): Claude Code's own tools, in a workspace, for requests that ask for it
    agent: bool = Field(False, description="Allow agent mode: Claude Code's tools inside a workspace.")
    agent_tools: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_AGENT_TOOLS),
        description="The tools an agent may use (an upper bound; a request may narrow it). Add Bash, WebFetch…",
    )
    agent_max_turns: int = Field(20, ge=1, description="Default bound on the agent loop's model calls per request.")
    agent_sandbox: bool = Field(
        True,
        description="Run Bash inside Claude Code's sandbox (bubblewrap); agent mode with Bash refuses to start "
        "when it is unavailable. false: Bash runs unconfined (the operator's explicit choice).",
    )
    workspace_root: Path | None = Field(None, description="Where workspaces live (default <data_dir>/workspaces).")
    workspaces: dict[str, Path] = Field(
        default_factory=dict, description='Named existing directories (JSON), e.g. {"repo": "/home/me/src/repo"}.'
    )
    workspace_max_file_bytes: int = Field(25 * 1024 * 1024, gt=0, description="Largest file one upload may hold.")

    # HTTP
    cors_origins: list[str] = Field(default_factory=list)
    cors_origin_regex: str | None = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)
    keepalive_interval: float = Field(15.0, gt=0, description="SSE comment interval during silence.")
    shutdown_grace: float = Field(30.0, ge=0, description="Seconds in-flight requests may finish after SIGTERM.")
    keep_alive_timeout: int = Field(
        75,
        ge=1,
        description="Seconds an idle client connection stays open. Longer than clients keep theirs (httpx and so "
        "the openai and anthropic SDKs: 5 s; Node: 4-5 s), so the client lets go first: with uvicorn's default of "
        "5 s, a connection reused after ~5 s idle could be closed under the request (a connection error).",
    )
    log_level: str = "info"
    console_enabled: bool = Field(True, description="Serve the web console at /console (and redirect / to it).")

    # Operations: keys, usage, logs (docs/operations.md)
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Static API keys: a JSON list or comma-separated."
    )
    admin_key: SecretStr | None = Field(None, description="Key for /metrics and /v1/admin/*; also serves requests.")
    db_path: Path | None = Field(None, description="SQLite store (default <data_dir>/claude-code-api.sqlite3).")
    access_log: bool = Field(True, description="One JSON line per request on stderr.")
    log_prompts: bool = Field(False, description="Put prompts and completions in the access log.")
    redis_url: str | None = Field(
        None, description="Keep keys, usage and rate-limit counters in Redis, shared by replicas (redis://host:6379/0)."
    )

    @field_validator("api_keys", "agent_tools", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """Accept a JSON list or a comma-separated string, so ``KEYS=a,b`` works as well as ``KEYS='["a"]'``."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def workspaces_dir(self) -> Path:
        return self.workspace_root or self.data_dir / "workspaces"
