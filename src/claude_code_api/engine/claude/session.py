"""One live Claude Code process (a claude-agent-sdk client) and the conversation it holds.

The session knows, turn by turn, what the process holds and the uuid of every user turn, so it can be
rewound to any earlier user turn (the CLI's ``rewind_conversation`` control request, CLI doc §17) instead
of being thrown away. Killing is immediate (SIGKILL, then the SDK's close finds the process gone) because a
departed client must stop costing tokens within a second; the SDK's own close waits up to 5 s.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import sys
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from claude_code_api.core.request import Block, Turn
from claude_code_api.engine.claude.exact_env import exact_env
from claude_code_api.engine.claude.tools import ClientTools

log = logging.getLogger(__name__)
_ids = itertools.count(1)
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


class _KillableTransport(SubprocessCLITransport):
    """The SDK's transport, plus: the child dies with the server (even on SIGKILL), an instant kill, and an
    environment that is exactly ``options.env`` (see ``exact_env.py``).

    ``setpriv --pdeathsig KILL`` (util-linux) execs the CLI in place, so the pid stays the CLI's own.
    """

    async def connect(self) -> None:
        with exact_env(self._options.env):
            await super().connect()

    def _build_command(self) -> list[str]:
        command = super()._build_command()
        return [_SETPRIV, "--pdeathsig", "KILL", "--", *command] if _SETPRIV else command

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def exited(self) -> bool:
        """Gone, as the event loop knows (``returncode``) or, before it reaped the child, as the kernel shows it."""
        process = self._process
        return process is None or process.returncode is not None or not _running(process.pid)

    def kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass


_PROC = Path("/proc/self/stat")


def _running(pid: int) -> bool:
    """The process runs (not a zombie, not gone), read from /proc; True where /proc cannot tell."""
    if not _PROC.exists():
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def _no_input() -> AsyncIterator[dict[str, Any]]:
    return
    yield {}  # pragma: no cover - makes this an async generator


ProcessState = Literal["busy", "idle", "parked", "retiring"]


class LiveSession:
    """A connected process bound to one configuration key, and the conversation it holds.

    Its ``state`` is the pool's to change (``SessionPool._move``); the conversation record changes only through
    its own methods: ``send``, ``adopt``, ``hold_as_text``, ``expect_rerun``, ``record_answer`` and ``rewind``.
    """

    def __init__(
        self,
        key: str,
        options: ClaudeAgentOptions,
        root: Path,
        projects_dir: Path,
        tools: ClientTools | None = None,
        *,
        shared_cwd: bool = False,
    ) -> None:
        self.id = next(_ids)
        self.key = key
        self.root = root
        self.projects_dir = projects_dir
        self.cwd = Path(str(options.cwd)) if options.cwd else root / "cwd"
        # An agent works in its workspace, which other processes may share: the CLI then files their transcripts
        # in one directory, so this process reads and removes only those of its own CLI sessions.
        self.shared_cwd = shared_cwd
        self.cli_sessions: set[str] = {options.resume} if options.resume else set()
        self.env: dict[str, str] = dict(options.env)  # what the process started with (``exact_env``)
        self._transport = _KillableTransport(prompt=_no_input(), options=options)
        self.client = ClaudeSDKClient(options, transport=self._transport)
        self.turns: list[Turn] = []
        self.turn_uuids: list[str] = []
        self.tail_unknown = False  # the process holds more than ``turns`` (an interrupted answer)
        self.preamble: tuple[Block, ...] = ()  # sent before the next prompt's blocks (flattened history)
        self.last_used = time.monotonic()
        self.closed = False
        self.state: ProcessState = "busy"
        self.tools = tools
        # The CLI already works on the next request's prompt: "continue" (results went into a parked turn) or
        # "rerun" (a resumed transcript ends with the prompt); "" means the prompt must be sent.
        self.submitted = ""
        self.pending_calls: tuple[str, ...] = ()  # client function calls this process waits for (parked)
        self.priced_total = 0.0  # Claude Code's running total cost of this process, as of its last turn

    @property
    def pid(self) -> int | None:
        return self._transport.pid

    @property
    def exited(self) -> bool:
        """The process is gone (killed, out of memory) while the session still thinks it holds a conversation."""
        return self._transport.exited

    async def connect(self, held: Sequence[Turn] = (), held_uuids: Sequence[str] = ()) -> None:
        await self.client.connect()
        self.turns = list(held)
        self.turn_uuids = list(held_uuids)

    async def send(self, prompt: Turn) -> str:
        """Write one user turn; returns its uuid. The caller then reads ``messages()`` up to the result."""
        turn_uuid = str(uuid.uuid4())
        blocks = [*self.preamble, *prompt.blocks]
        self.preamble = ()
        line = {
            "type": "user",
            "uuid": turn_uuid,
            "message": {"role": "user", "content": blocks},
            "parent_tool_use_id": None,
        }

        async def one() -> AsyncIterator[dict[str, Any]]:
            yield line

        await self.client.query(one())
        self.turns.append(prompt)
        self.turn_uuids.append(turn_uuid)
        self.tail_unknown = True
        return turn_uuid

    def adopt(self, prompt: Turn, results: dict[str, Any]) -> None:
        """Continue a parked turn: the client's results go to the waiting calls instead of a new user line."""
        assert self.tools is not None
        self.tools.deliver(results)
        self.turns.append(prompt)
        self.turn_uuids.append("")  # the CLI files tool results under uuids of its own; no rewind lands there
        self.tail_unknown = True
        self.pending_calls = ()
        self.submitted = "continue"

    def hold_as_text(self, preamble: Sequence[Block]) -> None:
        """The process starts without history; ``preamble`` (the history flattened) goes before the next prompt,
        so it holds the history only as text and is never matched turn for turn."""
        self.preamble = tuple(preamble)
        self.tail_unknown = True

    def expect_rerun(self) -> None:
        """The resumed transcript ends with the next request's prompt, which the CLI re-runs at start-up."""
        self.submitted = "rerun"

    def note_cli_session(self, message: object) -> None:
        """Remember the CLI session id a message belongs to (a resume may start a new one); only a process in a
        shared directory needs them (``own_sessions``)."""
        if not self.shared_cwd:
            return
        session_id = getattr(message, "session_id", None)
        if session_id is None:
            session_id = (getattr(message, "data", None) or {}).get("session_id")
        if isinstance(session_id, str) and session_id:
            self.cli_sessions.add(session_id)

    @property
    def own_sessions(self) -> set[str] | None:
        """The CLI sessions whose files are this process's own; None: every file in ``projects_dir`` is."""
        return set(self.cli_sessions) if self.shared_cwd else None

    def messages(self) -> AsyncGenerator[Any, None]:
        return self.client.receive_messages()  # type: ignore[return-value]

    def record_answer(
        self, answer: Turn | None, pending_calls: Sequence[str] = (), priced_total: float | None = None
    ) -> None:
        """After a turn: the process now holds ``answer`` (None: it holds something the client won't echo), and
        waits for the results of ``pending_calls``; ``priced_total`` is its running cost, when reported."""
        if priced_total is not None:
            self.priced_total = priced_total
        if answer is not None:
            self.turns.append(answer)
            self.turn_uuids.append("")
            self.tail_unknown = False
        self.submitted = ""
        self.pending_calls = tuple(pending_calls)
        self.last_used = time.monotonic()

    def rewind_point(self, history: Sequence[Turn]) -> int | None:
        """The number of held turns to keep so the process holds exactly ``history``, if a rewind can do it."""
        if not self.tail_unknown and self.turns == list(history):
            return len(self.turns)
        k = len(history)
        rewindable = k < len(self.turns) and self.turns[k].role == "user" and bool(self.turn_uuids[k])
        if rewindable and self.turns[:k] == list(history):
            return k
        return None

    async def rewind(self, keep: int) -> None:
        """Drop every held turn from index ``keep`` on (which must be a user turn)."""
        if keep == len(self.turns) and not self.tail_unknown:
            return
        target = self.turn_uuids[keep]
        newest = next(
            u for t, u in zip(reversed(self.turns), reversed(self.turn_uuids), strict=True) if t.role == "user"
        )
        request = {
            "subtype": "rewind_conversation",
            "target_message_uuid": target,
            "last_seen_user_message_uuid": newest,
        }
        response = await self._control(request)
        if not response.get("rewound"):
            raise RuntimeError(f"rewind refused: {response}")
        del self.turns[keep:]
        del self.turn_uuids[keep:]
        self.tail_unknown = False

    async def set_base_url(self, url: str) -> None:
        """Point the process's ``ANTHROPIC_BASE_URL`` at ``url`` for its next requests ("": as if unset), through
        the CLI's ``apply_flag_settings`` (merged into the ``--settings`` layer, whose other keys stay, and its
        ``env`` applied to the running process; ``warm_up.py``)."""
        await self._control({"subtype": "apply_flag_settings", "settings": {"env": {"ANTHROPIC_BASE_URL": url}}})

    async def _control(self, request: dict[str, Any]) -> dict[str, Any]:
        # The SDK has no public call for the control requests used here (``rewind_conversation``,
        # ``apply_flag_settings``); the pinned CLI answers them, and end-to-end tests check at the fake upstream
        # that a rewound or warmed-up process sends what it should.
        response = await self.client._query._send_control_request(request)  # type: ignore[union-attr]
        return dict(response or {})

    async def interrupt(self) -> None:
        await self.client.interrupt()

    def kill(self) -> None:
        self._transport.kill()

    async def close(self, *, kill: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        pid = self.pid  # the SDK forgets its process on disconnect
        if kill:
            self.kill()
        try:
            await self.client.disconnect()
        except Exception:  # cleanup must go on; the reason is logged
            log.warning("session %s: disconnect failed", self.id, exc_info=True)
        finally:
            # Even when shutdown cancels the disconnect: the process is already killed, so its files can go.
            remove_session_files(self.root, self.projects_dir, pid, self.cwd, self.own_sessions)


def remove_session_files(
    root: Path, projects_dir: Path, pid: int | None = None, cwd: Path | None = None, only: set[str] | None = None
) -> None:
    """A session's scratch directory, the transcripts the CLI filed for it under the config dir (``only`` those
    of these CLI sessions, in a directory other processes share) and, given the (ended) process's pid, the CLI's
    ``sessions/<pid>.json``, which the CLI itself never removes."""
    shutil.rmtree(root, ignore_errors=True)
    if only is None:
        shutil.rmtree(projects_dir, ignore_errors=True)
    for session_id in only or ():
        (projects_dir / f"{session_id}.jsonl").unlink(missing_ok=True)
        shutil.rmtree(projects_dir / session_id, ignore_errors=True)
    if pid is not None:
        remove_cli_session_file(cli_sessions_dir(projects_dir), pid, cwd or root / "cwd")


def cli_sessions_dir(projects_dir: Path) -> Path:
    """``<config dir>/sessions``, next to ``<config dir>/projects/<slug>``."""
    return projects_dir.parent.parent / "sessions"


def cli_session_cwd(path: Path) -> str | None:
    """The cwd recorded in a CLI ``sessions/<pid>.json`` file (None: unreadable, or not such a file)."""
    try:
        cwd = json.loads(path.read_text(encoding="utf-8")).get("cwd")
    except (OSError, ValueError, AttributeError):
        return None
    return cwd if isinstance(cwd, str) else None


def remove_cli_session_file(sessions_dir: Path, pid: int, cwd: Path) -> None:
    """Remove ``sessions_dir/<pid>.json`` if it is the file of the process that ran in ``cwd``: the pid may
    already belong to someone else's Claude Code (a shared config dir), whose file must stay."""
    path = sessions_dir / f"{pid}.json"
    if cli_session_cwd(path) in (str(cwd), str(cwd.resolve())):
        path.unlink(missing_ok=True)
