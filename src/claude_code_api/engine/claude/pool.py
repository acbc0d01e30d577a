"""The pool of live Claude Code processes, and how a request finds the one that already holds its history.

Routes, cheapest first (each counted in ``route_counts``):
- ``reuse``: an idle process holds exactly the request's history (a follow-up turn): only the new turn is sent.
- ``spare``: a new conversation on an empty process made ahead of time (started, or emptied by a rewind).
- ``rewind``: an idle process holds the history plus later turns (a regenerated or edited turn, or a new
  conversation when no spare is left): it is rewound to the common prefix in ~2-4 ms.
- ``resume``: nothing live fits: a new process resumes a transcript written from the request's history.
- ``spawn``: a new process for an empty history.
Client function calls (``engine/claude/tools.py``): a process whose turn stopped at client calls is *parked*
(its calls wait for results, bounded by ``pool_idle_ttl`` and by ``max_processes`` parked at once).
- ``tool_continue``: the request carries the results of a parked process's calls: they go into that turn.
- ``tool_resume``: no parked process has the calls: a new process resumes a transcript ending with the
  results and re-runs that turn at start-up (nothing is sent on stdin).
The transcript a resume starts from is Claude Code's own when the store has one for the history (counted as
``stored_resume``; ``engine/claude/transcript_store.py``: kept when the pool lets a process go), else one built
from the request's messages.
Processes stay live after a request, holding their conversations, until the idle caps, the memory budget (PSS of
every live process) or the idle TTL let the least recently used go; which process serves a request and which go is
decided in ``pool_policy.py``. Spawns and rewinds for new conversations are kept off the request path: one background
task keeps empty spares, for the default configuration from boot and for each configuration that has started a
second conversation recently. It refills them one at a time by rewinding the process of a conversation that is no
longer recent (``pool_recent``), else by starting one into free room (under ``max_processes`` and the budget).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
from claude_agent_sdk import CLINotFoundError

from claude_code_api.core.models import ModelRegistry
from claude_code_api.core.request import CompletionRequest, Turn
from claude_code_api.engine.claude.config import config_key
from claude_code_api.engine.claude.options import SessionPaths, agent_options, base_env, config_dir, project_slug
from claude_code_api.engine.claude.pool_memory import PssCache
from claude_code_api.engine.claude.pool_policy import Fit, Idle, Limits, Room, choose, evict, spare_wanted, to_empty
from claude_code_api.engine.claude.session import LiveSession, ProcessState, cli_session_cwd, remove_session_files
from claude_code_api.engine.claude.tools import (
    BUILT_RESUME_TURN_ENV,
    RESUME_TURN_ENV,
    ClientTools,
    answers_tool_calls,
    cli_turns,
    system_prompt,
    tool_results,
)
from claude_code_api.engine.claude.transcript import (
    Transcript,
    build_transcript,
    flatten_history,
    restore_transcript,
    write_transcript,
)
from claude_code_api.engine.claude.transcript_store import TranscriptKeeper
from claude_code_api.engine.claude.turn import TurnOutcome
from claude_code_api.engine.claude.warm_up import Responder, warm_up, warmable
from claude_code_api.errors import EngineUnavailable, ModelNotFound
from claude_code_api.private_files import ensure_private_dir
from claude_code_api.settings import PSS_PER_PROCESS_MB, Settings

log = logging.getLogger(__name__)
ROOM_WAIT = 5.0  # the longest a spawn waits for retired processes to exit (their transcript is read first)
SPARE_CONFIGS = 4  # the most recently used configurations that spares are kept for (besides the default one)
BOOT_SPARE_WAIT = 30.0  # the longest start-up waits for the first spare (a CLI that hangs must not stop serving)
SPARE_RETRY = 10.0  # seconds before starting spares again after one failed to start
NOT_RECENT_MARGIN = 0.05  # seconds past ``pool_recent`` before looking again for a process to empty into a spare


class SessionPool:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._idle: dict[str, list[LiveSession]] = {}
        self._busy: set[LiveSession] = set()
        self._parked: dict[LiveSession, float] = {}  # parked process → when it is killed
        self._retiring: set[LiveSession] = set()  # let go of, its transcript being kept before it is killed
        self._spawning = 0
        self._background: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._pss = PssCache(PSS_PER_PROCESS_MB)
        # Configurations that may get spares, the least recently used first; the default one never expires.
        self._spare_for: OrderedDict[str, SpareDemand] = OrderedDict()
        self._default_key: str | None = None
        self._spare_starting: dict[str, asyncio.Future[None]] = {}  # key → done when its spare has started (or not)
        self._spare_wake = asyncio.Event()
        self.route_counts: Counter[str] = Counter()
        self.spawned = 0  # processes started on a request's path
        self.prestarted = 0  # spares started ahead of requests
        self.warmed = 0  # spares that took their first turn against the warm-up responder
        self.emptied = 0  # spares made by rewinding an old conversation's process (no start needed)
        self._warm_up = settings.pool_warm_up
        self._responder: Responder | None = None  # started with the first warm-up (spares start one at a time)
        self.transcripts = TranscriptKeeper(settings)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        sessions_dir = ensure_private_dir(self._settings.data_dir / "sessions")
        sweep_leftovers(sessions_dir, config_dir(base_env(self._settings)))
        await self.transcripts.start()
        if self._settings.pool_enabled or self.transcripts.enabled:
            self._reaper = asyncio.create_task(self._reap_forever())
        if self._spares_on():
            template = default_request(self._settings)
            if template is not None:
                self._default_key = config_key(template)
                # The first spare is started before the server answers, so its first request spawns nothing.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._start_spare(template), BOOT_SPARE_WAIT)
                self._want_spares(template)
            self._background_task(self._keep_spares())

    async def aclose(self) -> None:
        """Stop every process: in-flight ones are killed at once and their requests' own cleanup awaited."""
        if self._reaper:
            self._reaper.cancel()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for session in list(self._busy):
            session.kill()
        deadline = time.monotonic() + 5
        while self._busy and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        kept = [s for group in self._idle.values() for s in group] + list(self._parked)
        self._idle.clear()
        self._parked.clear()
        closing = [*(self.transcripts.keep_and_close(s) for s in kept), *(s.close(kill=True) for s in self._busy)]
        await asyncio.gather(*closing, return_exceptions=True)
        await self.transcripts.aclose()
        if self._responder is not None:
            await self._responder.aclose()

    def stats(self) -> dict[str, int]:
        idle = sum(len(g) for g in self._idle.values())
        return {
            "idle": idle,
            "spares": sum(1 for g in self._idle.values() for s in g if is_spare(s)),
            "busy": len(self._busy),
            "parked": len(self._parked),
            "spawning": self._spawning,
            "retiring": len(self._retiring),
            "live": idle + len(self._busy) + len(self._parked),
            "spawned": self.spawned,
            "prestarted": self.prestarted,
            "warmed": self.warmed,
            "emptied": self.emptied,
            **{f"route_{k}": v for k, v in self.route_counts.items()},
        }

    def live_pids(self) -> list[int]:
        return [s.pid for s in self._live() if s.pid is not None]

    def busy_pids(self) -> list[int]:
        return [s.pid for s in self._busy if s.pid is not None]

    def _live(self) -> list[LiveSession]:
        return [s for g in self._idle.values() for s in g] + list(self._busy) + list(self._parked)

    # -- acquire / release -----------------------------------------------------------------------
    async def acquire(self, request: CompletionRequest) -> LiveSession:
        """A busy process for ``request``: the caller runs its turn, then hands it back with ``settle``."""
        answering = answers_tool_calls(request)
        session = await self._take_parked(request) if answering else None
        if session is None and self._settings.pool_enabled and not answering:
            # (an idle process never holds unanswered calls: such a process is parked or gone)
            session = await self._take_idle(request)
            starting = self._spare_starting.get(config_key(request))
            if session is None and starting is not None and not request.history:
                await asyncio.shield(starting)  # the spare being started is closer than a spawn of our own
                session = await self._take_idle(request)
        if session is None:
            route = "tool_resume" if answering else "resume" if request.history else "spawn"
            session = await self._spawn(request, request.history, rerun_prompt=answering)
            self.spawned += 1
            self.route_counts[route] += 1
        self._move(session, "busy")
        if self._spares_on():
            self._want_spares(request, wake=False)  # woken once the turn is over: a spawn would slow it down
        return session

    async def settle(self, session: LiveSession, outcome: TurnOutcome | None) -> None:
        """A busy process's turn ended: kept idle, parked at client function calls, or (no outcome: the turn
        failed or was cut short) killed."""
        if outcome is None:
            await self.discard(session)
            return
        session.record_answer(outcome.answer, outcome.pending_calls, outcome.priced_total)
        if session.pending_calls:
            await self._park(session)
        elif self._settings.pool_enabled and self._settings.pool_max_idle > 0:
            self._move(session, "idle")
            await self._trim()
            self._spare_wake.set()
            if self._spares_on():  # once this conversation is no longer recent, its process may become a spare
                asyncio.get_running_loop().call_later(
                    self._settings.pool_recent + NOT_RECENT_MARGIN, self._spare_wake.set
                )
        else:
            await self.discard(session)

    async def _park(self, session: LiveSession) -> None:
        """Keep a process whose turn waits for client function results (bounded by TTL and ``max_processes``)."""
        if not (self._settings.pool_enabled and session.tools):
            await self.discard(session)
            return
        self._move(session, "parked")
        await self._make_room(0)

    def _move(self, session: LiveSession, state: ProcessState) -> None:
        """The one place a live process changes state (and container)."""
        self._busy.discard(session)
        self._parked.pop(session, None)
        self._retiring.discard(session)
        group = self._idle.get(session.key, [])
        if session in group:
            group.remove(session)
        session.state = state
        if state == "retiring":
            self._spare_wake.set()  # room freed: a spare may fit again
            if not session.closed:
                self._retiring.add(session)
        elif state == "busy":
            self._busy.add(session)
        elif state == "idle":
            self._idle.setdefault(session.key, []).append(session)
        elif state == "parked":
            self._parked[session] = time.monotonic() + self._settings.pool_idle_ttl

    def _retire(self, session: LiveSession) -> None:
        """Let an idle or parked process go; its transcript is kept, so its conversation can still be resumed."""
        self._move(session, "retiring")
        self.transcripts.retire(session, closed=lambda: self._retiring.discard(session))

    def live_count(self) -> int:
        """Every Claude Code process alive or being started: busy, idle, parked, retiring and spawning."""
        idle = sum(len(g) for g in self._idle.values())
        return idle + len(self._busy) + len(self._parked) + len(self._retiring) + self._spawning

    async def _make_room(self, needed: int) -> None:
        """Retire the least recently used idle or parked processes until ``needed`` more fit under
        ``max_processes``, which caps every live Claude Code process, and wait (briefly) for them to go."""
        spare = sorted([*(s for g in self._idle.values() for s in g), *self._parked], key=lambda s: s.last_used)
        while spare and self.live_count() + needed > self._settings.max_processes:
            self._retire(spare.pop(0))
        deadline = time.monotonic() + ROOM_WAIT
        while self._retiring and self.live_count() + needed > self._settings.max_processes:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)

    async def _take_parked(self, request: CompletionRequest) -> LiveSession | None:
        results = tool_results(request.prompt)
        if results is None:
            return None
        for session in list(self._parked):
            if set(session.pending_calls) != set(results):
                continue
            if session.key != config_key(request) or session.turns != list(request.history):
                # The client changed the conversation around the calls: the parked turn no longer fits.
                self._retire(session)
                return None
            self._move(session, "busy")
            session.adopt(request.prompt, results)
            self.route_counts["tool_continue"] += 1
            return session
        return None

    async def discard(self, session: LiveSession) -> None:
        try:
            await session.close(kill=True)
        finally:
            self._move(session, "retiring")  # only now, so that shutdown can wait for this cleanup

    async def _take_idle(self, request: CompletionRequest) -> LiveSession | None:
        candidates: dict[int, tuple[LiveSession, int]] = {}
        fits = []
        for session in self._idle.get(config_key(request), []):
            point = session.rewind_point(request.history)
            if point is not None:
                candidates[session.id] = (session, point)
                exact = point == len(session.turns) and not session.tail_unknown
                fits.append(Fit(session.id, exact, session.last_used, len(session.turns)))
        while (choice := choose(fits)) is not None:
            session, point = candidates[choice.ident]
            # Only the chosen process's liveness is read (from /proc): one read per request, not one per idle
            # process. One that died while idle is let go of (its transcript kept), never handed to a request.
            if not session.exited:
                break
            self._retire(session)
            fits = [f for f in fits if f.ident != choice.ident]
        if choice is None:
            return None
        session, point = candidates[choice.ident]
        if not await self._take_rewound(session, point, failed="rewind_failed"):
            return None  # the request starts a new process instead
        self.route_counts[choice.route] += 1
        return session

    async def _take_rewound(self, session: LiveSession, keep: int, *, failed: str) -> bool:
        """Take an idle process (``busy`` from here on, so whatever happens it is accounted for and cleaned up) and
        rewind it to its first ``keep`` turns. One that cannot rewind is discarded, never reused stale, and counted
        as ``failed``; a cancellation meanwhile (the client gone, the server stopping) discards it too and is raised."""
        self._move(session, "busy")
        try:
            await session.rewind(keep)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.discard(session)
            if not isinstance(exc, Exception):
                raise
            log.warning("session %s: rewind failed (%s)", session.id, failed, exc_info=True)
            self.route_counts[failed] += 1
            return False
        return True

    # -- spawning --------------------------------------------------------------------------------
    async def _spawn(
        self, request: CompletionRequest, history: Sequence[Turn], *, rerun_prompt: bool = False
    ) -> LiveSession:
        await self._make_room(1)
        self._spawning += 1
        try:
            return await self._connect_new(request, history, rerun_prompt)
        finally:
            self._spawning -= 1

    async def _connect_new(
        self, request: CompletionRequest, history: Sequence[Turn], rerun_prompt: bool = False
    ) -> LiveSession:
        """A new process holding ``history``: resumed from a transcript, or, if this CLI refuses the
        transcript, started fresh with the history flattened into the first message (logged and counted).

        ``rerun_prompt``: the prompt answers the history's last function calls; the transcript then ends with
        it and the CLI re-runs that turn at start-up, so calls and results reach Claude as real blocks.
        """
        if not history:
            return await self._start_process(request, (), resume=False)
        held = [*history, request.prompt] if rerun_prompt else list(history)
        stored = await self.transcripts.find(history, config_key(request))
        if stored is not None:
            try:
                session = await self._resume(request, held, rerun_prompt, stored)
            except TranscriptRefused:
                log.warning("resuming a stored transcript failed; building one from the messages", exc_info=True)
                self.route_counts["stored_resume_failed"] += 1
            else:
                self.route_counts["stored_resume"] += 1
                return session
        try:
            return await self._resume(request, held, rerun_prompt)
        except TranscriptRefused:
            log.warning("resuming a transcript failed; falling back to a flattened history", exc_info=True)
            self.route_counts["resume_failed"] += 1
        session = await self._start_process(request, (), resume=False)
        session.hold_as_text(flatten_history(history))
        self.route_counts["flattened"] += 1
        return session

    async def _resume(
        self, request: CompletionRequest, held: Sequence[Turn], rerun: bool, stored: Sequence[str] | None = None
    ) -> LiveSession:
        session = await self._start_process(request, held, resume=True, rerun=rerun, stored=stored)
        if rerun:
            session.expect_rerun()
        return session

    async def _start_process(
        self,
        request: CompletionRequest,
        history: Sequence[Turn],
        *,
        resume: bool,
        rerun: bool = False,
        stored: Sequence[str] | None = None,
    ) -> LiveSession:
        """``stored``: Claude Code's own transcript of ``history`` (without a ``rerun`` prompt), else one is built."""
        paths = SessionPaths(self._settings.data_dir / "sessions" / uuid.uuid4().hex)
        paths.create(system_prompt(request))
        tools = ClientTools(request.tools) if request.tools else None
        options = agent_options(self._settings, request, paths, tools=tools)
        cwd = Path(str(options.cwd))  # the scratch cwd, or an agent's workspace
        projects = config_dir(options.env) / "projects" / project_slug(cwd)
        uuids: tuple[str, ...] = ()
        if resume:
            transcript = self._transcript(request, history, cwd, rerun, stored)
            write_transcript(transcript, projects)
            options.resume = transcript.session_id
            uuids = transcript.uuids
        if rerun:
            options.env.update(RESUME_TURN_ENV if stored is not None else {**RESUME_TURN_ENV, **BUILT_RESUME_TURN_ENV})
        session = LiveSession(
            config_key(request), options, paths.root, projects, tools, shared_cwd=request.agent is not None
        )
        try:
            await session.connect(history, uuids)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await session.close(kill=True)
            if isinstance(exc, CLINotFoundError):
                raise EngineUnavailable(f"Claude Code cannot start: {exc}", code="cli_not_found") from exc
            if isinstance(exc, Exception) and resume:
                raise TranscriptRefused(f"Claude Code did not resume the transcript: {exc}") from exc
            if isinstance(exc, Exception):
                raise EngineUnavailable(f"Claude Code failed to start: {exc}") from exc
            raise
        return session

    def _transcript(
        self, request: CompletionRequest, held: Sequence[Turn], cwd: Path, rerun: bool, stored: Sequence[str] | None
    ) -> Transcript:
        if stored is not None:
            return restore_transcript(stored, held, cwd, held[-1] if rerun else None)
        return self._build_transcript(cli_turns(held, request.tools), cwd, request.model)

    # A seam for tests that prove the flattened fallback (a transcript the CLI cannot resume).
    _build_transcript = staticmethod(build_transcript)

    # -- spares ----------------------------------------------------------------------------------
    def _spares_on(self) -> bool:
        settings = self._settings
        return settings.pool_enabled and settings.pool_prestart and settings.pool_spares > 0

    def _background_task(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _want_spares(self, request: CompletionRequest, *, wake: bool = True) -> None:
        """Note a request of ``request``'s configuration (the most recently used few are remembered)."""
        key = config_key(request)
        demand = self._spare_for.pop(key, None) or SpareDemand(replace(request, history=(), prompt=Turn("user", ())))
        demand.asked = time.monotonic()
        demand.conversations += not request.history
        self._spare_for[key] = demand
        while len(self._spare_for) > SPARE_CONFIGS + 1:
            oldest = next(k for k in self._spare_for if k != self._default_key)
            del self._spare_for[oldest]
        if wake:
            self._spare_wake.set()

    def _wanted(self, key: str, demand: SpareDemand) -> bool:
        """The default configuration always gets spares; another one once it has started a second conversation
        (a system prompt made per conversation, e.g. with a date in it, would otherwise get spares nobody uses),
        while it is used (within the idle TTL)."""
        if key == self._default_key:
            return True
        return demand.conversations >= 2 and time.monotonic() - demand.asked < self._settings.pool_idle_ttl

    async def _keep_spares(self) -> None:
        """The one task that refills spares, one at a time, so they never take more than one core from requests: by
        emptying the process of a conversation that is no longer recent (a rewind) or, failing that, by starting
        one into free room."""
        while True:
            await self._spare_wake.wait()
            self._spare_wake.clear()
            while (refill := self._next_refill()) is not None:
                template, holder = refill
                if holder is not None:
                    await self._empty(holder)
                elif not await self._start_spare(template):
                    await asyncio.sleep(SPARE_RETRY)
                    break

    def _next_refill(self) -> tuple[CompletionRequest, LiveSession | None] | None:
        """A configuration short of spares, and the idle process to empty into one (None: start one)."""
        now = time.monotonic()
        for key, demand in reversed(self._spare_for.items()):
            spares = self._spare_count(key)
            if not self._wanted(key, demand) or spares >= self._settings.pool_spares:
                continue
            holder = self._holder_to_empty(key, now)
            if holder is not None or spare_wanted(spares, self._settings.pool_spares, self._room(key)):
                return demand.template, holder
        return None

    def _holder_to_empty(self, key: str, now: float) -> LiveSession | None:
        holders = {s.id: s for s in self._idle.get(key, []) if not is_spare(s) and s.rewind_point(()) == 0}
        fits = [Fit(s.id, False, s.last_used, len(s.turns)) for s in holders.values()]
        chosen = to_empty(fits, now, self._settings.pool_recent)
        return holders[chosen] if chosen is not None else None

    async def _empty(self, session: LiveSession) -> None:
        """Rewind an idle process's conversation away, off every request's path, so it serves the next new
        conversation as a spare. A late follow-up resumes from a transcript built from its messages, as after any
        rewind: keeping Claude Code's own would mean reading the process's whole transcript file, which grows with
        every conversation the process has served."""
        if session.exited:
            self._retire(session)
            return
        if not await self._take_rewound(session, 0, failed="empty_failed"):  # (busy meanwhile: nobody takes it)
            return
        session.last_used = time.monotonic()  # as a started spare's: the time it became one
        self.emptied += 1
        self._move(session, "idle")

    def _spare_count(self, key: str) -> int:
        return sum(1 for s in self._idle.get(key, []) if is_spare(s))

    def _room(self, key: str) -> Room:
        settings = self._settings
        budget = settings.pool_max_memory_mb
        return Room(
            live=self.live_count(),
            max_live=settings.max_processes,
            idle=sum(len(g) for g in self._idle.values()),
            max_idle=settings.pool_max_idle,
            config_idle=len(self._idle.get(key, [])),
            per_config=settings.pool_idle_per_config,
            pss_mb=sum(self._pss.of(s.pid) for s in self._live()) if budget > 0 else 0.0,
            budget_mb=budget,
            process_mb=self._pss.typical(),
        )

    async def _start_spare(self, template: CompletionRequest) -> bool:
        """Start one empty process into the idle pool; False if it could not start."""
        key = config_key(template)
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._spare_starting[key] = started
        self._spawning += 1
        try:
            session = await self._start_warm_spare(template)
        except Exception:  # a spare is an optimisation; requests still spawn their own
            log.warning("could not start a spare Claude Code process", exc_info=True)
            return False
        finally:
            self._spawning -= 1
            del self._spare_starting[key]
            started.set_result(None)
        self.prestarted += 1
        self._move(session, "idle")
        await self._trim()
        return True

    async def _start_warm_spare(self, template: CompletionRequest) -> LiveSession:
        """A new empty process, warmed up when it can be (``warm_up.py``); a failed warm-up costs that process and
        turns warm-up off for the pool's life, and a cold one is started instead."""
        session = await self._start_process(template, (), resume=False)
        env = session.env
        if not (self._warm_up and warmable(env)):
            return session
        try:
            await warm_up(session, await self._warm_up_responder(), env.get("ANTHROPIC_BASE_URL"))
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await session.close(kill=True)
            if not isinstance(exc, Exception):
                raise
            log.warning("warming up a spare failed; spares start cold from now on", exc_info=True)
            self._warm_up = False
            self.route_counts["warm_up_failed"] += 1
            return await self._start_process(template, (), resume=False)
        self.warmed += 1
        return session

    async def _warm_up_responder(self) -> Responder:
        if self._responder is None:
            responder = Responder()
            await responder.start()
            self._responder = responder
        return self._responder

    # -- limits ----------------------------------------------------------------------------------
    async def _trim(self) -> None:
        """Let idle processes go, least recently used first, beyond the idle caps and the memory budget."""
        settings = self._settings
        idle = [s for g in self._idle.values() for s in g]
        measure = settings.pool_max_memory_mb > 0
        described = [Idle(s.id, s.key, s.last_used, self._pss.of(s.pid) if measure else 0.0) for s in idle]
        held = sum(self._pss.of(s.pid) for s in [*self._busy, *self._parked]) if measure else 0.0
        limits = Limits(settings.pool_idle_per_config, settings.pool_max_idle, settings.pool_max_memory_mb)
        doomed = set(evict(described, limits, held))
        for session in idle:
            if session.id in doomed:
                self._retire(session)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self._settings.pool_idle_ttl))
            cutoff = time.monotonic() - self._settings.pool_idle_ttl
            expired = [s for s, deadline in self._parked.items() if deadline < time.monotonic()]
            expired += [s for g in self._idle.values() for s in g if s.last_used < cutoff and not self._kept_spare(s)]
            expired += [s for g in self._idle.values() for s in g if s.exited and s not in expired]  # died idle
            for session in expired:
                self._retire(session)
            if self._settings.pool_max_memory_mb > 0:  # measured here, off every request's path
                await self._pss.refresh(s.pid for s in self._live() if s.pid is not None)
                await self._trim()
            with contextlib.suppress(Exception):
                await self.transcripts.maybe_prune()

    def _kept_spare(self, session: LiveSession) -> bool:
        """An empty spare of a configuration still in use does not expire: it would only be started again."""
        demand = self._spare_for.get(session.key)
        return is_spare(session) and demand is not None and self._wanted(session.key, demand)


@dataclass
class SpareDemand:
    """A configuration that may get spares: a request of it with no history (to start them from), when it was last
    asked for, and how many conversations it has started."""

    template: CompletionRequest
    asked: float = 0.0
    conversations: int = 0


def is_spare(session: LiveSession) -> bool:
    """An empty process: it holds no conversation, so it serves a new one without rewinding anyone's."""
    return not session.turns and not session.tail_unknown


def default_request(settings: Settings) -> CompletionRequest | None:
    """What an ordinary OpenAI chat request with only user messages is configured as: the spares started at boot."""
    try:
        model = ModelRegistry.build(settings.model_aliases).resolve(settings.pool_prestart_model)
    except ModelNotFound:
        log.warning("pool_prestart_model %r is not a known model; no spares at boot", settings.pool_prestart_model)
        return None
    return CompletionRequest(
        model=model,
        system=settings.default_system_prompt,
        history=(),
        prompt=Turn("user", ()),
        show_thinking=settings.expose_reasoning,
        client_view="openai",
    )


class TranscriptRefused(EngineUnavailable):
    """Claude Code started but would not resume the transcript it was given (the next route may still work)."""


def sweep_leftovers(sessions_dir: Path, cli_config_dir: Path) -> None:
    """Remove what a previous run could not (it was killed): scratch dirs, the transcripts filed for them, and the
    CLI's ``sessions/<pid>.json`` of its processes that are gone."""
    sweep_cli_session_files(cli_config_dir / "sessions", sessions_dir)
    if not sessions_dir.is_dir():
        return
    for root in sessions_dir.iterdir():
        remove_session_files(root, cli_config_dir / "projects" / project_slug(root / "cwd"))


def sweep_cli_session_files(cli_sessions: Path, sessions_dir: Path) -> None:
    """Remove each ``<pid>.json`` whose process ran in one of our scratch dirs and is no longer alive; a file of a
    live process, or of a Claude Code session the server did not start (a shared config dir), stays."""
    ours = str(sessions_dir.resolve()) + os.sep
    for path in cli_sessions.glob("*.json"):
        cwd = cli_session_cwd(path)
        if path.stem.isdigit() and cwd is not None and cwd.startswith(ours) and not _alive(int(path.stem)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
