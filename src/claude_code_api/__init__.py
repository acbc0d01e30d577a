"""claude-code-api: an OpenAI-compatible API server that runs requests through the real Claude Code CLI."""

__version__ = "0.1.0"

__all__ = ["__version__"]
