"""Direct ``claude -p``: the baseline the API is compared with.

Owns ``Direct``, which runs the bundled CLI once per request with the flags and environment the server gives its own
Claude Code processes, and times the whole run and its first text delta.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.engine.claude.options import SessionPaths, bundled_cli_path, child_env
from claude_code_api.settings import Settings
from inputs import MODEL_ID, PROMPTS, SYSTEM_PROMPT, prompt_for
from processes import Workspace
from stats import Sample


@dataclass(frozen=True)
class Direct:
    """``claude -p`` with the flags and environment the server gives its Claude Code processes."""

    cli: str
    env: dict[str, str]
    cwd: Path

    @classmethod
    def prepare(cls, ws: Workspace) -> Direct:
        paths = SessionPaths(ws.root / "direct")
        paths.create(SYSTEM_PROMPT)
        settings = Settings(cli_env=ws.cli_env(), data_dir=ws.root / "direct-data")
        turn = Turn("user", ({"type": "text", "text": PROMPTS[0]},))
        request = CompletionRequest(model=MODEL_ID, system=SYSTEM_PROMPT, history=(), prompt=turn)
        return cls(str(bundled_cli_path()), child_env(settings, request, paths), paths.cwd)

    def argv(self) -> list[str]:
        return [
            *(self.cli, "-p", "--model", MODEL_ID, "--tools", "", "--system-prompt", SYSTEM_PROMPT),
            *("--output-format", "stream-json", "--verbose", "--include-partial-messages"),
            *("--setting-sources", "", "--strict-mcp-config", "--bare"),
        ]

    async def run(self, index: int) -> Sample:
        start = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *self.argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            limit=64 * 1024 * 1024,
        )
        try:
            return await self._collect(process, prompt_for(index), start)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    @staticmethod
    async def _collect(process: asyncio.subprocess.Process, prompt: str, start: float) -> Sample:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(prompt.encode())
        await process.stdin.drain()
        process.stdin.close()
        ttft: float | None = None
        async for line in process.stdout:
            if ttft is None and is_text_delta(line):
                ttft = time.perf_counter() - start
        code = await process.wait()
        latency = time.perf_counter() - start
        if code != 0 or ttft is None:
            return Sample(latency, ttft, f"claude -p exited {code}, text delta seen: {ttft is not None}")
        return Sample(latency, ttft)


def is_text_delta(line: bytes) -> bool:
    if b'"text_delta"' not in line:
        return False
    message = json.loads(line)
    event = message.get("event") or {}
    return bool(message.get("type") == "stream_event" and (event.get("delta") or {}).get("type") == "text_delta")
