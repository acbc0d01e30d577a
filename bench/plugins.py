"""Per-turn cost of the CLI's built-in plugins: one live process with them (the CLI's default) and one without
(the server's ``--settings``, ``options.chat_settings``), taking turns on the fake upstream.

Owns ``measure_plugins``: both processes are started with the server's own options (``agent_options``) and driven
turn by turn as the server does (``LiveSession``); the first turns are excluded (a fresh process is slow for its
first ~20), then the two alternate, so both see the same machine load. CPU per turn comes from ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.engine.claude.options import SessionPaths, agent_options
from claude_code_api.engine.claude.session import LiveSession
from claude_code_api.settings import Settings
from inputs import MODEL_ID, SYSTEM_PROMPT, prompt_for
from processes import Workspace

WARM_TURNS = 20


@dataclass
class TurnCosts:
    wall: list[float] = field(default_factory=list)  # seconds per turn
    cpu: float = 0.0  # CPU seconds of the CLI process over the measured turns


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def start(ws: Workspace, name: str, plugins: bool) -> LiveSession:
    settings = Settings(cli_env=ws.cli_env(), data_dir=ws.root / f"plugins-{name}")
    request = CompletionRequest(model=MODEL_ID, system=SYSTEM_PROMPT, history=(), prompt=Turn("user", ()))
    paths = SessionPaths(ws.root / f"plugins-{name}" / "session")
    paths.create(SYSTEM_PROMPT)
    options = agent_options(settings, request, paths)
    if plugins:
        options.settings = None  # the CLI's default: its built-in plugins on
    session = LiveSession(name, options, paths.root, ws.root / f"plugins-{name}" / "projects")
    await session.connect()
    return session


async def turn(session: LiveSession, index: int) -> float:
    begun = time.perf_counter()
    await session.send(Turn("user", ({"type": "text", "text": prompt_for(index)},)))
    async for message in session.messages():
        if type(message).__name__ == "ResultMessage":
            break
    return time.perf_counter() - begun


async def measure_plugins(ws: Workspace, turns: int) -> dict[str, TurnCosts]:
    """``turns`` measured turns each, after WARM_TURNS excluded ones, alternating between the two processes."""
    sessions = {"plugins on": await start(ws, "on", True), "plugins off": await start(ws, "off", False)}
    costs = {name: TurnCosts() for name in sessions}
    try:
        for index in range(WARM_TURNS):
            for session in sessions.values():
                await turn(session, index)
        before = {name: cpu_seconds(s.pid) for name, s in sessions.items()}
        for index in range(turns):
            for name, session in sessions.items():
                costs[name].wall.append(await turn(session, index))
        for name, session in sessions.items():
            costs[name].cpu = cpu_seconds(session.pid) - before[name]
    finally:
        for session in sessions.values():
            await session.close(kill=True)
    return costs
