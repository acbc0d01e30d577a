"""Production operations: API keys, per-key limits, usage accounting, Prometheus metrics and access logs.

Nothing here runs at import time; ``ops.hub.Operations`` is built per app by ``create_app``.
"""
