"""Writing a conversation history as a Claude Code transcript, so a new process can ``--resume`` it.

Each turn becomes one transcript line with our own uuid; those uuids later let a live process be rewound
to any user turn. The line shape is the minimal one the pinned CLI (2.1.332) accepts (CLI doc §6).
Also the other direction: reading the transcript a CLI process wrote (``read_cli_transcript``), checking that
it holds exactly a client-view conversation (``chain_matches``), and re-filing such a stored transcript for a
new process (``restore_transcript``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from claude_code_api.core.request import Block, Turn
from claude_code_api.engine.claude.translate import CLIENT_TOOL_PREFIX
from claude_code_api.private_files import ensure_private_dir, write_private_text

CLI_VERSION = "2.1.332"
_TIMESTAMP = "2026-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Transcript:
    session_id: str
    lines: tuple[str, ...]
    uuids: tuple[str, ...]  # one per turn, in order


def build_transcript(turns: Sequence[Turn], cwd: Path, model: str) -> Transcript:
    session_id = str(uuid.uuid4())
    lines: list[str] = []
    uuids: list[str] = []
    parent: str | None = None
    for turn in turns:
        turn_uuid = str(uuid.uuid4())
        message: dict[str, object] = {"role": turn.role, "content": list(turn.blocks)}
        if turn.role == "assistant":
            message.update(
                type="message",
                id="msg_" + turn_uuid.replace("-", "")[:24],
                model=model,
                stop_reason="end_turn",
                stop_sequence=None,
                usage={"input_tokens": 0, "output_tokens": 0},
            )
        entry = _entry(turn.role, message, turn_uuid, parent, session_id, cwd, _TIMESTAMP)
        lines.append(json.dumps(entry, ensure_ascii=False))
        uuids.append(turn_uuid)
        parent = turn_uuid
    return Transcript(session_id, tuple(lines), tuple(uuids))


def _entry(
    role: str, message: dict[str, object], entry_uuid: str, parent: str | None, session_id: str, cwd: Path, when: str
) -> dict[str, object]:
    return {
        "parentUuid": parent,
        "isSidechain": False,
        "type": role,
        "message": message,
        "uuid": entry_uuid,
        "timestamp": when,
        "sessionId": session_id,
        "cwd": str(cwd),
        "userType": "external",
        "version": CLI_VERSION,
    }


def write_transcript(transcript: Transcript, projects_dir: Path) -> Path:
    ensure_private_dir(projects_dir)
    path = projects_dir / f"{transcript.session_id}.jsonl"
    return write_private_text(path, "".join(line + "\n" for line in transcript.lines))


def flatten_history(turns: Sequence[Turn]) -> tuple[Block, ...]:
    """The last-resort route: the history as labelled text (images kept as blocks) ahead of the new message.

    Used only when a transcript cannot be resumed; role separation is then lost, which is why it is logged.
    """
    blocks: list[Block] = [{"type": "text", "text": "<conversation_so_far>"}]
    for turn in turns:
        label = "User" if turn.role == "user" else "Assistant"
        for block in turn.blocks:
            if block.get("type") == "image":
                blocks.append(block)
            else:
                blocks.append({"type": "text", "text": f"{label}: {_block_text(block)}"})
    blocks.append({"type": "text", "text": "</conversation_so_far>\nThe user's new message follows."})
    return tuple(blocks)


def _block_text(block: Block) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_use":
        return f"[called {block.get('name')} with {json.dumps(block.get('input'))}]"
    if kind == "tool_result":
        return f"[result of {block.get('tool_use_id')}: {block.get('content')}]"
    return f"[{kind}]"


# -- the CLI's own transcripts (engine/claude/transcript_store.py keeps them) ---------------------------------
_MESSAGE_TYPES = ("user", "assistant")
_CALL_TYPES = ("tool_use", "tool_result")
Signature = tuple[str, str, tuple[str, ...]]


def read_cli_transcript(projects_dir: Path, session_ids: Collection[str] | None = None) -> list[str] | None:
    """The newest transcript the CLI filed in ``projects_dir`` (``--resume`` may start a new file), of one of
    ``session_ids`` where given (agent processes share their workspace's directory), reduced to
    the conversation it holds now: its bookkeeping lines (no uuid) and the chain of entries from the newest
    message back to the first. Branches that a rewind left behind are dropped, so a resuming CLI has no other
    leaf to pick. None when there is nothing readable.
    """
    try:
        found = projects_dir.glob("*.jsonl")
        if session_ids is not None:
            found = (p for p in found if p.stem in session_ids)
        files = sorted(found, key=lambda p: p.stat().st_mtime)
        text = files[-1].read_text(encoding="utf-8") if files else ""
    except OSError:
        return None
    entries = [(line, entry) for line in text.splitlines() if (entry := _parse(line)) is not None]
    parents = {e["uuid"]: e.get("parentUuid") for _, e in entries if isinstance(e.get("uuid"), str)}
    leaf = next((e["uuid"] for _, e in reversed(entries) if _is_message(e)), None)
    chain: set[str] = set()
    while isinstance(leaf, str) and leaf not in chain:
        chain.add(leaf)
        leaf = parents.get(leaf)
    kept = [line for line, e in entries if not isinstance(e.get("uuid"), str) or e["uuid"] in chain]
    return kept if chain else None


def _parse(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:  # a line the CLI is still writing
        return None
    return entry if isinstance(entry, dict) else None


def _is_message(entry: dict[str, Any]) -> bool:
    return entry.get("type") in _MESSAGE_TYPES and isinstance(entry.get("uuid"), str) and not entry.get("isSidechain")


def chain_matches(lines: Sequence[str], turns: Sequence[Turn]) -> bool:
    """The transcript holds exactly ``turns`` as the client sees them: the same roles in the same order, and per
    turn the same text and tool call / result ids (thinking, attachments and meta entries are the CLI's own).

    Consecutive entries of one role are one turn (the CLI files each content block of an answer on its own line).
    A transcript the CLI has not finished writing fails this, which is why it is checked before keeping one.
    """
    grouped: list[tuple[str, list[Block]]] = []
    agent_calls: set[str] = set()
    for line in lines:
        entry = _parse(line)
        if entry is None or not _is_message(entry) or entry.get("isMeta"):
            continue
        given = _content_blocks(entry.get("message"))
        blocks = _without_agent_calls(given, agent_calls)
        if given and not blocks:
            continue  # an agent's inner step (its tool call or result): the client never sees it
        if grouped and grouped[-1][0] == entry["type"]:
            grouped[-1][1].extend(blocks)
        else:
            grouped.append((entry["type"], blocks))
    return [_signature(role, blocks) for role, blocks in grouped] == [_signature(t.role, t.blocks) for t in turns]


def _without_agent_calls(blocks: list[Block], agent_calls: set[str]) -> list[Block]:
    """The blocks minus Claude Code's own tool calls and their results (agent mode); the client's functions are
    filed under the MCP prefix and stay. ``agent_calls`` collects the ids of the calls dropped so far."""
    kept = []
    for block in blocks:
        if block.get("type") == "tool_use" and not str(block.get("name", "")).startswith(CLIENT_TOOL_PREFIX):
            agent_calls.add(str(block.get("id")))
        elif not (block.get("type") == "tool_result" and str(block.get("tool_use_id")) in agent_calls):
            kept.append(block)
    return kept


def _content_blocks(message: Any) -> list[Block]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _signature(role: str, blocks: Sequence[Block]) -> Signature:
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    ids = tuple(str(b.get("id") or b.get("tool_use_id")) for b in blocks if b.get("type") in _CALL_TYPES)
    return role, text, ids


def restore_transcript(lines: Sequence[str], held: Sequence[Turn], cwd: Path, rerun: Turn | None) -> Transcript:
    """A stored transcript re-filed for a new process: a new session id and the new cwd on every line, all
    else as stored. ``rerun``: the client's tool results, appended as one user entry answering the stored
    chain's last calls, so the CLI re-runs that turn at start-up (as with a built transcript).

    ``held`` is what the process will hold (with ``rerun`` last); the returned uuids (one per held turn) are
    those of the stored user prompts where they map one to one, else "" (a turn that cannot be rewound to).
    """
    session_id = str(uuid.uuid4())
    out: list[str] = []
    last: str | None = None
    prompts: list[tuple[str, str]] = []  # (uuid, text) of the stored chain's user prompts, in order
    for entry in filter(None, map(_parse, lines)):  # stored lines all parse; a damaged store loses only lines
        if "sessionId" in entry:
            entry["sessionId"] = session_id
        if "cwd" in entry:
            entry["cwd"] = str(cwd)
        if isinstance(entry.get("uuid"), str):
            last = entry["uuid"]
            if _is_prompt(entry):
                prompts.append((entry["uuid"], _signature("user", _content_blocks(entry["message"]))[1]))
        out.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
    stored = held[:-1] if rerun is not None else held
    uuids = _prompt_uuids(stored, prompts)
    if rerun is not None:
        message: dict[str, object] = {"role": "user", "content": list(rerun.blocks)}
        when = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = _entry("user", message, str(uuid.uuid4()), last, session_id, cwd, when)
        out.append(json.dumps(entry, ensure_ascii=False))
        uuids.append("")  # the CLI answers it at start-up; it is never a rewind target
    return Transcript(session_id, tuple(out), tuple(uuids))


def _is_prompt(entry: dict[str, Any]) -> bool:
    """A user entry that a client's user turn became (not a tool result, not one of the CLI's meta entries)."""
    if not _is_message(entry) or entry["type"] != "user" or entry.get("isMeta"):
        return False
    return not _only_tool_results(_content_blocks(entry.get("message")))


def _only_tool_results(blocks: Sequence[Block]) -> bool:
    return bool(blocks) and all(b.get("type") == "tool_result" for b in blocks)


def _prompt_uuids(turns: Sequence[Turn], prompts: Sequence[tuple[str, str]]) -> list[str]:
    """Each held turn's CLI uuid: user prompts in order, when their count and texts agree; otherwise ""."""
    targets = [i for i, t in enumerate(turns) if t.role == "user" and not _only_tool_results(t.blocks)]
    uuids = [""] * len(turns)
    if len(targets) != len(prompts):
        return uuids
    for index, (prompt_uuid, text) in zip(targets, prompts, strict=True):
        if turns[index].text() == text:
            uuids[index] = prompt_uuid
    return uuids
