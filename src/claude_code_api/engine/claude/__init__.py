"""The Claude Code engine: drives the real CLI through claude-agent-sdk."""
