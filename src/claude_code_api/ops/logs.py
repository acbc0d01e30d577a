"""The access log: one JSON line per request on the ``claude_code_api.access`` logger.

Prompts and completions are left out unless ``log_prompts`` is on: they are the users' data. The handler is
attached by the command line (``configure_access_log``), never at import, so embedding apps keep control.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from claude_code_api.ops.usage import RequestRecord

ACCESS_LOGGER = "claude_code_api.access"


def access_fields(record: RequestRecord) -> dict[str, Any]:
    ttft = record.time_to_first_output()
    fields: dict[str, Any] = {
        "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "request_id": record.request_id,
        "key": record.key_name,
        "method": record.method,
        "path": record.path,
        "model": record.model,
        "status": record.status,
        "latency_ms": round(record.latency() * 1000),
        "ttft_ms": None if ttft is None else round(ttft * 1000),
        "input_tokens": record.usage.input_tokens,
        "output_tokens": record.usage.output_tokens,
        "cache_read_tokens": record.usage.cache_read_tokens,
        "cache_write_tokens": record.usage.cache_write_tokens,
        "cost_usd": round(record.cost_usd, 6),
        "error": record.error,
    }
    if record.capture_text:
        fields["prompt"] = record.prompt
        fields["completion"] = "".join(record.output)
    return fields


def log_request(record: RequestRecord) -> None:
    logging.getLogger(ACCESS_LOGGER).info(json.dumps(access_fields(record), ensure_ascii=False))


def configure_access_log(enabled: bool) -> None:
    """Bare JSON lines on stderr, not mixed into the human-readable log format."""
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.propagate = False
    logger.handlers.clear()
    if enabled:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    else:
        logger.disabled = True
