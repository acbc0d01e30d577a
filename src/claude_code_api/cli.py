"""The ``claude-code-api`` command: ``serve`` (default) runs the server with uvicorn; ``keys`` manages API keys
and ``usage`` prints the usage ledger (both work on the store while the server runs: SQLite in the data directory,
or Redis when ``CLAUDE_CODE_API_REDIS_URL`` is set); ``doctor`` checks what a first run depends on."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import redis
import uvicorn

from claude_code_api.app import create_app
from claude_code_api.banner import startup_banner
from claude_code_api.core.models import ModelRegistry
from claude_code_api.doctor import describe_auth, doctor
from claude_code_api.ops.hub import open_store
from claude_code_api.ops.keys import KeyRing, mint_key
from claude_code_api.ops.logs import configure_access_log
from claude_code_api.ops.store import KeyExists, Store
from claude_code_api.ops.usage import format_table, usage_table
from claude_code_api.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claude-code-api", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or CLAUDE_CODE_API_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8000, or API_PORT / CLAUDE_CODE_API_PORT)")
    _keys_parser(commands)
    usage = commands.add_parser("usage", help="print tokens and cost per key, model and day")
    usage.add_argument("--key", help="only this key name")
    usage.add_argument("--since", type=date.fromisoformat, help="from this day on (YYYY-MM-DD, UTC)")
    _data_dir_option(usage)
    check = commands.add_parser("doctor", help="check what serving depends on; print the fix for each problem")
    check.add_argument("--host", help="address the server will bind (to check the port)")
    check.add_argument("--port", type=int, help="port the server will use")
    check.add_argument("--no-call", action="store_true", help="skip the test call to Claude")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    _data_dir_option(check)
    return parser


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="the server's data directory (or CLAUDE_CODE_API_DATA_DIR)")


def _keys_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print it (the only time it is shown)")
    create.add_argument("--name", required=True)
    create.add_argument("--rpm", type=int, help="requests per minute")
    create.add_argument("--tpm", type=int, help="tokens per minute")
    create.add_argument("--max-concurrent", type=int, help="requests at once")
    create.add_argument("--models", help="comma-separated model names this key may use (default: all)")
    create.add_argument("--agent", action="store_true", help="the key may use agent mode (Claude Code's tools)")
    revoke = keys.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("name")
    for sub in (create, revoke, keys.add_parser("list", help="list keys (never the keys themselves)")):
        _data_dir_option(sub)


def serve(settings: Settings) -> int:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_access_log(settings.access_log)
    log = logging.getLogger("claude_code_api")
    keys_on = _announce_auth(settings, log)
    auth = asyncio.run(describe_auth(settings))
    models = ModelRegistry.build(settings.model_aliases).listed()
    short_first = sorted(models, key=lambda name: (name.startswith("claude-"), models.index(name)))
    print("\n".join(startup_banner(settings, keys_on=keys_on, auth=auth, models=short_first)), file=sys.stderr)
    app = create_app(settings)
    agent = getattr(app.state.api.engine, "agent_status", {})
    if agent.get("sandbox") == "unavailable":
        print(f"claude-code-api: {agent['error']}", file=sys.stderr)
        return 2
    if agent.get("enabled"):
        log.warning(
            "agent mode is ON: Claude Code's tools (%s) in workspaces under %s; Bash sandbox: %s",
            ", ".join(agent["tools"]),
            settings.workspaces_dir,
            agent["sandbox"],
        )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.shutdown_grace),  # then the lifespan kills every process
        timeout_keep_alive=settings.keep_alive_timeout,
    )
    return 0


def _announce_auth(settings: Settings, log: logging.Logger) -> bool:
    """Whether keys are required; warns loudly when they are not and the server is reachable beyond localhost."""
    store = open_store(settings)
    try:
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        keys_on = KeyRing(store, settings.api_keys, admin).enabled()
    finally:
        store.close()
    if not keys_on and not _is_loopback(settings.host):
        banner = "!" * 78
        log.warning(
            "\n%s\nNO API KEYS ARE CONFIGURED and the server listens on %s: anyone who can reach it can spend your"
            " Claude account.\nCreate a key with `claude-code-api keys create --name NAME`, or set"
            " CLAUDE_CODE_API_API_KEYS.\n%s",
            banner,
            settings.host,
            banner,
        )
    return keys_on


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keys(settings: Settings, args: argparse.Namespace) -> int:
    store = open_store(settings)
    try:
        if args.keys_command == "create":
            return _create_key(store, args)
        if args.keys_command == "revoke":
            if store.revoke_key(args.name):
                print(f"revoked {args.name}")
                return 0
            print(f"no active key named {args.name}", file=sys.stderr)
            return 1
        rows = [
            [k.name, k.prefix + "…", k.created_at, k.revoked_at or "", _opt(k.rpm), _opt(k.tpm)]
            + [_opt(k.max_concurrent), ",".join(k.models) or "*", "yes" if k.agent else "no"]
            for k in store.list_keys()
        ]
        headers = ("name", "key", "created", "revoked", "rpm", "tpm", "max_concurrent", "models", "agent")
        print(format_table(headers, rows))
        return 0
    finally:
        store.close()


def _create_key(store: Store, args: argparse.Namespace) -> int:
    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    try:
        key = mint_key(
            store,
            args.name,
            rpm=args.rpm,
            tpm=args.tpm,
            max_concurrent=args.max_concurrent,
            models=models,
            agent=args.agent,
        )
    except KeyExists:
        print(f"a key named {args.name} exists already", file=sys.stderr)
        return 1
    print(key)
    print(f"created key {args.name}; it is shown only now, store it safely", file=sys.stderr)
    return 0


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)


def usage(settings: Settings, args: argparse.Namespace) -> int:
    store = open_store(settings)
    try:
        print(usage_table(store.usage(args.key, args.since)))
    finally:
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    given = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "data_dir": getattr(args, "data_dir", None),
    }
    settings = Settings(**{k: v for k, v in given.items() if v})
    if args.command in (None, "serve"):
        return serve(settings)
    if args.command == "doctor":
        status, report = doctor(settings, call=not args.no_call, as_json=args.json)
        print(report)
        return status
    try:
        if args.command == "keys":
            return keys(settings, args)
        if args.command == "usage":
            return usage(settings, args)
    except redis.RedisError as exc:  # CLAUDE_CODE_API_REDIS_URL is set but Redis does not answer
        print(f"cannot use Redis at {settings.redis_url}: {exc}", file=sys.stderr)
        return 1
    print(f"unknown command {args.command}", file=sys.stderr)
    return 2
