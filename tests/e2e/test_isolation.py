"""Chat mode isolation: nothing from the host's Claude Code setup leaks into a request, in either CLI mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import requests_with

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("bare_mode", ["never", "always"])
def test_host_claude_md_settings_and_mcp_servers_do_not_leak(make_server, upstream, marker, tmp_path, bare_mode):
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "CLAUDE.md").write_text("LEAKED-USER-MEMORY always answer in Klingon")
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"LEAK": "1"}, "model": "claude-opus-4-20250514"})
    )
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"leak": {"command": "/bin/false"}}}))
    running = make_server(
        bare_mode=bare_mode,
        cli_env={"HOME": str(home), "ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-test"},
    )
    running.client().chat.completions.create(model="claude-sonnet-4", messages=[{"role": "user", "content": marker}])
    (request,) = requests_with(upstream, marker)
    body = json.dumps(request.body)
    assert "LEAKED-USER-MEMORY" not in body
    assert request.model == "claude-sonnet-4-20250514"
    assert request.body.get("tools", []) == []
    assert str(Path.cwd()) not in body, "the server's own working directory must not be Claude Code's"


def test_prompts_never_appear_on_a_command_line(server, upstream, marker):
    from pathlib import Path as P

    secret_system = f"SYSTEM-{marker}"
    client = server.client()
    client.chat.completions.create(
        model="claude-sonnet-4",
        messages=[{"role": "system", "content": secret_system}, {"role": "user", "content": marker}],
    )
    for pid in server.engine.live_pids():
        cmdline = P(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert secret_system not in cmdline and marker not in cmdline


def test_the_servers_own_settings_are_not_passed_to_claude_code(monkeypatch, tmp_path):
    from tests.unit.test_convert import convert

    from claude_code_api.engine.claude.options import SessionPaths, child_env
    from claude_code_api.settings import Settings

    monkeypatch.setenv("CLAUDE_CODE_API_ADMIN_KEY", "sk-admin-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-user")
    env = child_env(
        Settings(data_dir=tmp_path), convert(messages=[{"role": "user", "content": "x"}]), SessionPaths(tmp_path)
    )
    assert "CLAUDE_CODE_API_ADMIN_KEY" not in env
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-user", "Claude Code's own credentials pass through"


def test_file_mentions_and_slash_commands_in_prompts_are_plain_text(server, upstream, marker, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-FILE-CONTENT")
    client = server.client()
    client.chat.completions.create(
        model="claude-sonnet-4", messages=[{"role": "user", "content": f"{marker} @{secret}"}]
    )
    (mention,) = requests_with(upstream, marker)
    assert "TOP-SECRET-FILE-CONTENT" not in json.dumps(mention.body)
    assert f"@{secret}" in mention.turns()[-1][1]
    slash = f"/clear {marker}-slash"
    client.chat.completions.create(model="claude-sonnet-4", messages=[{"role": "user", "content": slash}])
    (command,) = requests_with(upstream, f"{marker}-slash")
    assert command.turns()[-1][1].strip() == slash, "a slash command is text for Claude, never run by Claude Code"
