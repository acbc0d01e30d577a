"""Pinned inputs of the benchmark: model, system prompt, prompts, request counts, server sizes and paths.

Everything that decides what is measured lives here, so a run is reproducible and the report can quote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from claude_code_api.core.models import BUILTIN_MODELS

MODEL = "claude-sonnet-4"
MODEL_ID = BUILTIN_MODELS[MODEL]
SYSTEM_PROMPT = "You are a concise assistant. Answer in one short sentence."
PROMPTS = (
    "What is the capital of France?",
    "Name a prime number above 100.",
    "What colour is the sky on a clear day?",
    "How many legs does a spider have?",
    "Suggest a name for a grey cat.",
    "What is 17 times 3?",
    "Give one synonym for quick.",
    "Which planet is closest to the sun?",
)
SETUP_EXCHANGES = 2  # a follow-up is measured only once its conversation holds at least this many exchanges
CONCURRENCIES = (1, 4)  # every kind (direct, pool off, pool on, streaming or not)
LOAD_CONCURRENCIES = (1, 4, 8, 16)  # new conversations, direct and pool on: throughput and the cliff past c=4
INTERLEAVED = (1, 4, 8)  # conversations taking turns, one follow-up at a time
FIRST_REQUEST_RUNS = 3  # fresh servers, each answering its first request
READY_CALLS = 10  # successive GET /ready on the pooled server
API_KEY = "sk-bench"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
# Inherited variables that would change what is measured (server settings, a real login or gateway).
SCRUBBED_PREFIXES = ("CLAUDE_CODE_API_", "ANTHROPIC_", "CLAUDE_CONFIG_DIR", "CLAUDE_CLI_PATH", "CLAUDE_TIMEOUT")
EXPECTED_ROUTES = {
    "new": {"rewind", "spare"},
    "follow": {"reuse"},
    "cold": {"spawn"},
    "talk": {"reuse"},
    "first": {"spare"},
}


@dataclass(frozen=True)
class Plan:
    requests: int  # measured requests per cell
    warmups: int  # excluded requests per cell, run first at the cell's concurrency


FULL = Plan(requests=20, warmups=5)
QUICK = Plan(requests=4, warmups=4)


def measured_requests(plan: Plan, concurrency: int) -> int:
    """At least two full batches at high concurrency, so a throughput is more than one batch's luck."""
    return max(plan.requests, 2 * concurrency)


def prompt_for(index: int) -> str:
    return PROMPTS[index % len(PROMPTS)]
