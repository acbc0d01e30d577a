"""One-line summaries of an agent's tool activity ("Edit src/app.py", "Read README.md: 120 lines"), as chat UIs
show them beside the answer (``reasoning_content`` on the OpenAI endpoints). Pure functions of the tool's input and
result; paths inside the workspace are shown relative to it."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

SUMMARY_WIDTH = 100
_NUMBERED = re.compile(r"^\s*\d+\t")
# The input field that names what a tool works on, by tool.
_TARGETS = {
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Glob": "pattern",
    "Grep": "pattern",
    "Bash": "command",
    "WebFetch": "url",
    "WebSearch": "query",
    "TaskCreate": "subject",
    "TaskUpdate": "taskId",
    "TaskGet": "taskId",
}


def use_summary(name: str, tool_input: dict[str, Any], workspace: str) -> str:
    target = tool_input.get(_TARGETS.get(name, ""), "")
    if not isinstance(target, str) or not target:
        return name
    if name in ("Read", "Write", "Edit", "MultiEdit", "NotebookEdit"):
        target = relative(target, workspace)
    return _clip(f"{name} {target}")


def result_summary(name: str, use: str, content: str, is_error: bool) -> str:
    """``use`` is the call's own summary; the result adds what came of it."""
    if is_error:
        return _clip(f"{use}: failed: {_first_line(content)}")
    if name == "Read":
        return f"{use}: {_lines_read(content)} lines"
    if name in ("Glob", "Grep"):
        found = len([line for line in content.splitlines() if line.strip()])
        return f"{use}: {found} results"
    return _clip(f"{use}: done")


def relative(path: str, workspace: str) -> str:
    if workspace and path.startswith(workspace.rstrip("/") + "/"):
        return str(PurePosixPath(path).relative_to(workspace))
    return path


def _lines_read(content: str) -> int:
    """Claude Code numbers each line it read (``"12\tline"``); after a final newline it shows an empty numbered
    line, which is not one of the file's lines."""
    numbered = [line for line in content.splitlines() if _NUMBERED.match(line)]
    while numbered and not numbered[-1].split("\t", 1)[1]:
        numbered.pop()
    return len(numbered) if numbered else len(content.splitlines())


def _first_line(text: str) -> str:
    text = text.replace("<tool_use_error>", "").replace("</tool_use_error>", "")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].strip() if lines else "no detail"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_WIDTH else text[: SUMMARY_WIDTH - 1] + "…"
