"""The HTTP layer: FastAPI routes, SSE framing and the one error → status map. Imports core and engine."""
