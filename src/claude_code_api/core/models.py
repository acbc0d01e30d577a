"""Model names clients may use and the full Claude model ids they run as.

The names of the first version's README keep working; the CLI's aliases are pinned to the ids the pinned
CLI (2.1.332) resolves them to, so a CLI upgrade cannot silently change which model answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from claude_code_api.errors import ModelNotFound

BUILTIN_MODELS: dict[str, str] = {
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-opus-4.1": "claude-opus-4-1-20250805",
    "claude-sonnet-3.7": "claude-3-7-sonnet-20250219",
    "claude-haiku-3.5": "claude-3-5-haiku-20241022",
    "sonnet": "claude-sonnet-5-5",
    "opus": "claude-opus-5-5",
    "haiku": "claude-haiku-5-5",
}

# Agent mode: every model name with this suffix runs the same model as an agent (docs/agent.md). No Claude model id
# ends with it, so the suffix can never shadow a real model.
AGENT_SUFFIX = "-agent"
_FULL_ID = re.compile(r"^claude-[a-z0-9][a-z0-9.\-]*$")


@dataclass(frozen=True)
class ModelRegistry:
    """Resolves a requested name to the model id Claude Code is started with."""

    aliases: Mapping[str, str]

    @classmethod
    def build(cls, extra_aliases: Mapping[str, str]) -> ModelRegistry:
        return cls({**BUILTIN_MODELS, **extra_aliases})

    def resolve(self, name: str) -> str:
        if name.strip().endswith(AGENT_SUFFIX):
            raise ModelNotFound(name)  # an agent name is split by ``agent_base`` first, where agent mode is on
        seen: set[str] = set()
        current = name.strip()
        while current in self.aliases and current not in seen:
            seen.add(current)
            current = self.aliases[current]
        if current in self.aliases.values() or _FULL_ID.match(current):
            return current
        raise ModelNotFound(name)

    def agent_base(self, name: str) -> str | None:
        """The chat model name an agent model name stands for (``sonnet-agent`` → ``sonnet``); None if not one."""
        base = name.strip().removesuffix(AGENT_SUFFIX)
        return base if base != name.strip() and base else None

    def listed(self, *, agent: bool = False) -> list[str]:
        """Every configured name and every id they resolve to, in a stable order; with ``agent``, then each
        of them as an agent model name too."""
        names = list(self.aliases)
        names += [self.resolve(n) for n in self.aliases]
        names = list(dict.fromkeys(names))
        return names + [n + AGENT_SUFFIX for n in names] if agent else names
