"""Engines run a ``CompletionRequest`` and yield neutral events. Imports ``core``; never the HTTP layer."""
