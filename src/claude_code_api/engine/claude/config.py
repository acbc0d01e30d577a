"""What a live Claude Code process is bound to: the parts of a request fixed when the process starts.

Requests with equal keys can share a process; everything else (the history, the prompt, stop sequences) varies
per request. The client view is part of it because it decides what the process records as the client's history;
an agent's workspace, tools and turn limit are part of it because the process starts with them.
"""

from __future__ import annotations

import hashlib

from claude_code_api.core.request import CompletionRequest, canonical_json


def config_key(request: CompletionRequest) -> str:
    tools = [[t.name, t.description, t.parameters] for t in request.tools]
    choice = request.tool_choice
    parts = [
        request.model,
        request.system,
        request.max_tokens,
        request.effort,
        tools,
        [choice.mode, choice.name, choice.disable_parallel_tool_use],
        request.output_schema,
        request.thinking,
        request.show_thinking,
        request.client_view,
        [request.agent.directory, list(request.agent.tools), request.agent.max_turns] if request.agent else None,
    ]
    return hashlib.sha256(canonical_json(parts).encode()).hexdigest()[:32]
