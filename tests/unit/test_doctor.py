"""``claude-code-api doctor``: all green against the fake upstream; each failure a first run meets prints its fix
and (when it blocks serving) a non-zero exit status. The CLI checks run the real bundled Claude Code."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import cli_settings, logging_cli

from claude_code_api import cli, doctor
from claude_code_api.banner import startup_banner
from claude_code_api.doctor import AuthInfo, auth_from_status, check_memory, redact_url
from claude_code_api.settings import Settings
from claude_code_api.testing.fake_upstream import FakeUpstream


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    """``claude-code-api doctor ARGS`` with ``settings`` given as the environment variables a user would set."""

    def doctor(settings: Settings, *args: str) -> tuple[int, str]:
        for name, value in settings.model_dump(exclude_defaults=True).items():
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            monkeypatch.setenv(f"CLAUDE_CODE_API_{name.upper()}", text)
        status = cli.main(["doctor", *args])
        return status, capsys.readouterr().out

    return doctor


def _checks(out: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


@pytest.mark.e2e
def test_all_green_with_the_fake_upstream_including_a_real_call(upstream: FakeUpstream, tmp_path: Path, run) -> None:
    cli, calls = logging_cli(tmp_path)
    settings = cli_settings(upstream, tmp_path, port=_free_port(), cli_path=str(cli))
    status, out = run(settings, "--json")
    sessions = [c for c in calls.read_text().splitlines() if c.startswith("--output-format")]
    assert len(sessions) == 1, "the test call starts one Claude Code process (no spare ahead of it)"
    assert not (tmp_path / "data" / "transcripts.sqlite3").exists()
    checks = _checks(out)
    assert status == 0 and json.loads(out)["ok"] is True
    assert checks["Claude Code"]["status"] == "ok" and "2.1.332 (the pinned one)" in checks["Claude Code"]["detail"]
    assert checks["Authentication"]["status"] == "ok"
    assert "API key from ANTHROPIC_API_KEY through the gateway at " + upstream.url in checks["Authentication"]["detail"]
    assert "sk-test" not in out  # never a secret
    assert checks["Test call"]["status"] == "ok" and "Hello from the fake upstream." in checks["Test call"]["detail"]
    assert checks["Port"]["status"] == "ok" and checks["Data directory"]["status"] == "ok"
    assert checks["Redis"]["status"] == "skip" and checks["Agent mode"]["status"] == "skip"


def test_not_logged_in_fails_with_the_login_command(tmp_path: Path, run, monkeypatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    settings = Settings(data_dir=tmp_path / "data", port=_free_port(), cli_env={"HOME": str(home)})
    status, out = run(settings)
    assert status == 1
    assert "[FAIL] Authentication  not authenticated" in out
    assert "fix: run `claude login` as the user that runs the server, or set ANTHROPIC_API_KEY" in out
    assert "[skip] Test call" in out  # no call is spent on a CLI that cannot authenticate
    assert out.splitlines()[-1] == "something blocks serving: see FAIL above"


def test_missing_cli_fails_with_where_to_get_it(tmp_path: Path, run) -> None:
    settings = Settings(data_dir=tmp_path / "data", port=_free_port(), cli_path=str(tmp_path / "no-such-claude"))
    status, out = run(settings, "--json", "--no-call")
    check = _checks(out)["Claude Code"]
    assert status == 1 and check["status"] == "fail"
    assert "no-such-claude does not exist or is not executable" in check["detail"]
    assert "set CLAUDE_CODE_API_CLI_PATH" in check["fix"]


def test_data_dir_readable_by_others_prints_chmod(upstream: FakeUpstream, tmp_path: Path, run) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    status, out = run(cli_settings(upstream, tmp_path, port=_free_port()), "--no-call")
    assert "[warn] Data directory" in out and "mode 0755: other users can read it" in out
    assert f"fix: chmod 700 {data}" in out
    assert status == 0  # a warning: the server can still serve


def test_port_in_use_blocks_serving(upstream: FakeUpstream, tmp_path: Path, run) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, out = run(cli_settings(upstream, tmp_path, port=port), "--no-call")
    assert status == 1 and "[FAIL] Port" in out and f"127.0.0.1:{port}: in use" in out
    assert "fix: stop what listens there, or choose another: --port N" in out


def test_unreachable_redis_fails_without_printing_its_password(upstream: FakeUpstream, tmp_path: Path, run):
    port = _free_port()
    settings = cli_settings(upstream, tmp_path, port=_free_port(), redis_url=f"redis://:hunter2@127.0.0.1:{port}/0")
    status, out = run(settings, "--no-call")
    assert status == 1 and "[FAIL] Redis" in out and f"redis://127.0.0.1:{port}/0 does not answer" in out
    assert "hunter2" not in out


@pytest.mark.e2e
def test_a_hung_upstream_fails_the_test_call_at_its_deadline(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        gateway = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {"HOME": str(tmp_path), "ANTHROPIC_BASE_URL": gateway, "ANTHROPIC_API_KEY": "sk-test"}
        settings = Settings(data_dir=tmp_path / "data", port=_free_port(), cli_env=env, upstream_max_retries=0)
        status, out = doctor.doctor(settings, call=True, as_json=False, call_deadline=3)
    assert status == 1
    assert "[FAIL] Test call" in out and "no answer within 3 s" in out
    assert "fix: check the network or the gateway; skip this check with --no-call" in out


def test_memory_short_of_max_processes_suggests_a_limit() -> None:
    check = check_memory(Settings(max_processes=8), available=500)  # 500 MiB holds 3 processes of ~150 MiB (PSS)
    assert check.status == "warn" and check.fix == "set CLAUDE_CODE_API_MAX_PROCESSES=3 (or free memory)"
    assert check_memory(Settings(max_processes=2), available=4000).status == "ok"


def test_auth_descriptions_name_the_method_never_the_secret() -> None:
    env = {"ANTHROPIC_BASE_URL": "https://user:pw@gw.example/anthropic"}
    login = auth_from_status({"loggedIn": True, "authMethod": "claude.ai"}, {})
    assert login == AuthInfo("claude.ai", "`claude login` (Claude subscription)")
    gateway = auth_from_status({"loggedIn": True, "authMethod": "oauth_token"}, env)
    assert gateway.detail.endswith("through the gateway at https://gw.example/anthropic") and "pw" not in gateway.detail
    assert auth_from_status({"loggedIn": False}, {}).method is None
    assert redact_url("redis://:secret@h:6379/0") == "redis://h:6379/0"


def test_startup_banner_says_where_what_and_how_in_a_few_lines() -> None:
    settings = Settings(host="0.0.0.0", port=9000, max_processes=3, max_queue=5)
    lines = startup_banner(
        settings,
        keys_on=True,
        auth=AuthInfo("claude.ai", "`claude login` (Claude subscription)"),
        models=["sonnet", "opus", "haiku", "gpt-4o", "claude-sonnet-4"],
    )
    text = "\n".join(lines)
    assert len(lines) <= 8
    assert "http://localhost:9000/v1 (listening on all interfaces)" in text
    assert "Anthropic SDKs    http://localhost:9000  (base URL without /v1)" in text
    assert "API key required" in text and "`claude login` (Claude subscription)" in text
    assert "sonnet, opus, haiku, gpt-4o and 1 more" in text
    assert "up to 3 Claude Code processes at once, 5 may queue" in text
    assert "http://localhost:9000/console" in text


def test_startup_banner_gives_the_fix_when_claude_cannot_authenticate() -> None:
    settings = Settings(console_enabled=False)
    auth = AuthInfo(None, "not authenticated", "run `claude login`")
    text = "\n".join(startup_banner(settings, keys_on=False, auth=auth, models=["sonnet"]))
    assert "http://127.0.0.1:8000/v1  (open: no API key needed)" in text
    assert "NOT READY: not authenticated; fix: run `claude login`" in text
    assert "Console           off" in text
