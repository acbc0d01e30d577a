"""The client's OpenAI functions as real Claude Code tools, which never run on the server.

Owns the in-process MCP server ``fn`` (each function's name, description and JSON schema verbatim) and the
permission callback for one live process. When Claude calls a function, its ``tools/call`` handler does not
run anything: it *waits* (one future per ``tool_use`` id) while the response ends with ``tool_calls``. The
client's next request delivers the results into those futures, so the same process continues the same turn
(CLI doc §16). The pure helpers decide whether a request is such a continuation and shape what the CLI is
given when no waiting process is left (the resume route) and how far ``tool_choice`` is honoured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, PermissionResultAllow, PermissionResultDeny, ToolPermissionContext
from claude_agent_sdk.types import McpSdkServerConfig, PermissionResult
from mcp.server import Server
from mcp.types import CallToolRequestParams, CallToolResult, ListToolsResult, PaginatedRequestParams, Tool

from claude_code_api.core.request import Block, CompletionRequest, ToolChoice, ToolSpec, Turn
from claude_code_api.engine.claude.translate import CLIENT_TOOL_PREFIX

SERVER_NAME = "fn"
# The CLI names the tool use of an MCP call in the request's _meta; that id is the OpenAI tool_call id.
TOOL_USE_ID_META = "claudecode/toolUseId"
# Resume route: a transcript whose last user turn holds the tool results is an interrupted turn, and this
# makes the CLI re-run it at start-up instead of closing it with a synthetic "No response requested."
# (measured on CLI 2.1.332; it adds the text "Continue from where you left off." after the results).
RESUME_TURN_ENV = {
    "CLAUDE_CODE_RESUME_INTERRUPTED_TURN": "1",
    "CLAUDE_CODE_RESUME_INTERRUPTED_TURN_MAX_AGE_MS": str(10 * 365 * 86_400_000),  # transcripts are backdated
}
# Added when that transcript was rebuilt from OpenAI messages: with thinking on, Claude's API requires the
# assistant turn that made the calls to start with its signed thinking block, which a rebuilt turn cannot have;
# without thinking it need not. A stored real transcript has the block (engine/claude/transcript_store.py).
BUILT_RESUME_TURN_ENV = {"CLAUDE_CODE_DISABLE_THINKING": "1"}


class ClientTools:
    """One process's client functions: what Claude is offered, and the calls waiting for the client."""

    def __init__(self, specs: Sequence[ToolSpec]) -> None:
        self.specs = tuple(specs)
        self._offered = {CLIENT_TOOL_PREFIX + s.name for s in specs}
        self._results: dict[str, asyncio.Future[Block]] = {}
        self.server: Server[Any] = Server(
            SERVER_NAME, version="1.0", on_list_tools=self._list_tools, on_call_tool=self._call_tool
        )

    def apply(self, options: ClaudeAgentOptions, wait_limit: float) -> None:
        """Offer the functions on ``options``; a parked call may wait ``wait_limit`` seconds for its result."""
        options.mcp_servers = {SERVER_NAME: McpSdkServerConfig(type="sdk", name=SERVER_NAME, instance=self.server)}
        options.can_use_tool = self.can_use_tool
        # The session hands the SDK its own transport, so the SDK's can_use_tool setup never reaches the CLI's
        # flags: ask for permission prompts over stdio here (setting permission_prompt_tool_name on these same
        # options would make the SDK reject them as conflicting with can_use_tool).
        options.extra_args["permission-prompt-tool"] = "stdio"
        # The CLI's own limit on a tool call must not end a parked call before the pool's TTL does.
        options.env["MCP_TOOL_TIMEOUT"] = str(int((wait_limit + 60) * 1000))

    async def can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        """Only the client's functions may be called (built-in tools are off anyway); calling one runs nothing."""
        if tool_name in self._offered:
            return PermissionResultAllow()
        return PermissionResultDeny(message=f"{tool_name} is not available.")

    def deliver(self, results: Mapping[str, Block]) -> None:
        """Hand the client's ``tool_result`` blocks to the calls waiting for them (or about to ask)."""
        for tool_use_id, block in results.items():
            future = self._future(tool_use_id)
            if not future.done():
                future.set_result(block)

    def _future(self, tool_use_id: str) -> asyncio.Future[Block]:
        if tool_use_id not in self._results:
            self._results[tool_use_id] = asyncio.get_running_loop().create_future()
        return self._results[tool_use_id]

    async def _list_tools(self, ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=[mcp_tool(spec) for spec in self.specs])

    async def _call_tool(self, ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        tool_use_id = str((params.meta or {}).get(TOOL_USE_ID_META, ""))
        if not tool_use_id:
            return CallToolResult(content=[], is_error=True)
        block = await self._future(tool_use_id)
        return CallToolResult.model_validate(mcp_result(block))


def mcp_tool(spec: ToolSpec) -> Tool:
    return Tool(name=spec.name, description=spec.description or None, input_schema=spec.parameters)


def mcp_result(block: Block) -> dict[str, Any]:
    """A client ``tool_result`` block as the MCP ``tools/call`` result the CLI turns back into one."""
    content = block.get("content", "")
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    return {"content": parts, "isError": bool(block.get("is_error", False))}


def tool_results(turn: Turn) -> dict[str, Block] | None:
    """The turn's tool results by ``tool_use_id``, if the turn is nothing but tool results."""
    if not turn.blocks or any(b.get("type") != "tool_result" for b in turn.blocks):
        return None
    return {str(b.get("tool_use_id")): b for b in turn.blocks}


def pending_calls(turn: Turn) -> list[str]:
    return [str(b.get("id")) for b in turn.blocks if b.get("type") == "tool_use"]


def answers_tool_calls(request: CompletionRequest) -> bool:
    """The request answers the calls of its last assistant turn (so it continues that turn)."""
    if not request.history or request.history[-1].role != "assistant" or not pending_calls(request.history[-1]):
        return False
    return any(b.get("type") == "tool_result" for b in request.prompt.blocks)


def cli_turns(turns: Sequence[Turn], specs: Sequence[ToolSpec]) -> list[Turn]:
    """The history as the CLI knows it: the client's function names carry the MCP prefix again."""
    names = {s.name for s in specs}
    return [Turn(t.role, tuple(_cli_block(b, names) for b in t.blocks)) for t in turns]


def _cli_block(block: Block, names: set[str]) -> Block:
    if block.get("type") == "tool_use" and block.get("name") in names:
        return {**block, "name": CLIENT_TOOL_PREFIX + str(block["name"])}
    return block


def tool_choice_instruction(choice: ToolChoice) -> str:
    """Claude Code has no tool_choice flag; ``any``, a named tool and no parallel calls become system prompt rules."""
    rules = []
    if choice.mode == "any":
        rules.append("You must answer by calling one or more of the provided functions, not with text alone.")
    if choice.mode == "tool" and choice.name:
        rules.append(f"You must answer by calling the function {CLIENT_TOOL_PREFIX}{choice.name}, not with text alone.")
    if choice.disable_parallel_tool_use:
        rules.append("Call at most one function per answer.")
    return " ".join(rules)


def system_prompt(request: CompletionRequest) -> str:
    rule = tool_choice_instruction(request.tool_choice) if request.tools else ""
    return f"{request.system}\n\n{rule}" if rule else request.system
