"""Writing a conversation history as a Claude Code transcript, so a new process can ``--resume`` it.

Each turn becomes one transcript line with our own uuid; those uuids later let a live process be rewound
to any user turn. The line shape is the minimal one the pinned CLI (2.1.332) accepts (CLI doc §6).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from claude_code_api.core.request import Block, Turn

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
        entry = {
            "parentUuid": parent,
            "isSidechain": False,
            "type": turn.role,
            "message": message,
            "uuid": turn_uuid,
            "timestamp": _TIMESTAMP,
            "sessionId": session_id,
            "cwd": str(cwd),
            "userType": "external",
            "version": CLI_VERSION,
        }
        lines.append(json.dumps(entry, ensure_ascii=False))
        uuids.append(turn_uuid)
        parent = turn_uuid
    return Transcript(session_id, tuple(lines), tuple(uuids))


def write_transcript(transcript: Transcript, projects_dir: Path) -> Path:
    projects_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = projects_dir / f"{transcript.session_id}.jsonl"
    path.write_text("".join(line + "\n" for line in transcript.lines), encoding="utf-8")
    return path


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
