"""The API side of the benchmark: a running server, and requests to it with the official ``openai`` client.

Owns ``Server`` (its client and its ``GET /health`` counters), ``serving`` (start and stop one), single requests
(non-streaming and streaming, timed) and ``Conversation`` (a client-side conversation for follow-up turns).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from inputs import MODEL, SYSTEM_PROMPT, prompt_for
from processes import Workspace, free_port, running, server_command, server_env, wait_http
from stats import Sample


def new_conversation(prompt: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


async def api_complete(client: openai.AsyncOpenAI, messages: list[ChatCompletionMessageParam]) -> tuple[Sample, str]:
    start = time.perf_counter()
    try:
        response = await client.chat.completions.create(model=MODEL, messages=messages)
    except openai.APIError as exc:
        return Sample(time.perf_counter() - start, error=describe(exc)), ""
    latency = time.perf_counter() - start
    content = response.choices[0].message.content or ""
    return (Sample(latency) if content else Sample(latency, error="empty content")), content


async def complete_plain(client: openai.AsyncOpenAI, index: int) -> Sample:
    """A request of the server's default configuration: the pinned model, no system message, one user message."""
    sample, _ = await api_complete(client, [{"role": "user", "content": prompt_for(index)}])
    return sample


async def complete_new(client: openai.AsyncOpenAI, index: int) -> Sample:
    sample, _ = await api_complete(client, new_conversation(prompt_for(index)))
    return sample


async def api_stream(client: openai.AsyncOpenAI, index: int) -> Sample:
    start = time.perf_counter()
    ttft: float | None = None
    try:
        stream = await client.chat.completions.create(
            model=MODEL, messages=new_conversation(prompt_for(index)), stream=True
        )
        async for chunk in stream:
            if ttft is None and chunk.choices and chunk.choices[0].delta.content:
                ttft = time.perf_counter() - start
    except openai.APIError as exc:
        return Sample(time.perf_counter() - start, error=describe(exc))
    latency = time.perf_counter() - start
    return Sample(latency, ttft) if ttft is not None else Sample(latency, error="no content delta")


class Server:
    """A running ``claude-code-api serve`` and its ``/health`` counters."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, boot_seconds: float) -> None:
        self.process = process
        self.boot_seconds = boot_seconds  # from the process start until /health answered
        self.url = f"http://127.0.0.1:{port}"
        self.client = openai.AsyncOpenAI(base_url=self.url + "/v1", api_key="not-needed", max_retries=0, timeout=120)

    async def stats(self) -> dict[str, int]:
        async with httpx.AsyncClient(timeout=5.0) as http:
            body = (await http.get(self.url + "/health")).json()
        return {k: int(v) for k, v in body["processes"].items()}

    async def ready_seconds(self, calls: int) -> list[float]:
        """Times of ``calls`` successive ``GET /ready`` (the first may check the CLI; the rest answer from cache)."""
        times = []
        async with httpx.AsyncClient(timeout=30.0) as http:
            for _ in range(calls):
                start = time.perf_counter()
                (await http.get(self.url + "/ready")).raise_for_status()
                times.append(time.perf_counter() - start)
        return times

    async def routes(self) -> dict[str, int]:
        return {k.removeprefix("route_"): v for k, v in (await self.stats()).items() if k.startswith("route_")}

    async def settle(self, timeout: float = 20.0) -> None:
        """Wait until no request runs and no spare process is starting, so a phase starts from a steady pool."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = await self.stats()
            if stats.get("spawning", 0) == 0 and stats.get("busy", 0) == 0 and stats.get("running", 0) == 0:
                return
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serving(ws: Workspace, *, pool: bool, name: str) -> AsyncIterator[Server]:
    port = free_port()
    log = ws.root / f"server-{name}.log"
    start = time.perf_counter()
    async with running(server_command(port), server_env(ws, pool=pool, name=name), log) as process:
        await wait_http(f"http://127.0.0.1:{port}/health", process, log, interval=0.01)
        server = Server(process, port, time.perf_counter() - start)
        try:
            yield server
        finally:
            await server.client.close()


class Conversation:
    """One client-side conversation: every request carries the whole history, as OpenAI clients do."""

    def __init__(self, client: openai.AsyncOpenAI, seed: int) -> None:
        self.client = client
        self.seed = seed
        self.messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": SYSTEM_PROMPT}]

    async def turn(self) -> Sample:
        exchanges = (len(self.messages) - 1) // 2
        self.messages.append({"role": "user", "content": prompt_for(self.seed + exchanges)})
        sample, content = await api_complete(self.client, self.messages)
        if sample.error is None:
            self.messages.append({"role": "assistant", "content": content})
        else:
            self.messages.pop()
        return sample
