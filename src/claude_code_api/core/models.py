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

_FULL_ID = re.compile(r"^claude-[a-z0-9][a-z0-9.\-]*$")


@dataclass(frozen=True)
class ModelRegistry:
    """Resolves a requested name to the model id Claude Code is started with."""

    aliases: Mapping[str, str]

    @classmethod
    def build(cls, extra_aliases: Mapping[str, str]) -> ModelRegistry:
        return cls({**BUILTIN_MODELS, **extra_aliases})

    def resolve(self, name: str) -> str:
        seen: set[str] = set()
        current = name.strip()
        while current in self.aliases and current not in seen:
            seen.add(current)
            current = self.aliases[current]
        if current in self.aliases.values() or _FULL_ID.match(current):
            return current
        raise ModelNotFound(name)

    def listed(self) -> list[str]:
        """Every configured name and every id they resolve to, in a stable order."""
        names = list(self.aliases)
        names += [self.resolve(n) for n in self.aliases]
        return list(dict.fromkeys(names))
