"""The ``claude-code-api`` command: ``serve`` (default) runs the server with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn

from claude_code_api.app import create_app
from claude_code_api.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claude-code-api", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or CLAUDE_CODE_API_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, or API_PORT / CLAUDE_CODE_API_PORT)")
    return parser


def serve(settings: Settings) -> int:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("claude_code_api")
    log.info("serving the OpenAI API on http://%s:%d/v1", settings.host, settings.port)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {
        k: v for k, v in {"host": getattr(args, "host", None), "port": getattr(args, "port", None)}.items() if v
    }
    settings = Settings(**overrides)
    if args.command in (None, "serve"):
        return serve(settings)
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2
