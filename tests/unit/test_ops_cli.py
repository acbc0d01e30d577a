"""The ``keys`` and ``usage`` commands, run through ``cli.main`` against a temporary data directory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from claude_code_api import cli
from claude_code_api.core.events import TokenUsage
from claude_code_api.ops.keys import KeyRing
from claude_code_api.ops.store import SqliteStore
from claude_code_api.settings import Settings


def _store(data: Path) -> SqliteStore:
    return SqliteStore(data / "claude-code-api.sqlite3")


def test_keys_create_prints_the_key_once_and_it_authenticates(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["keys", "create", "--name", "ci", "--rpm", "5", "--tpm", "1000", "--max-concurrent", "2"]
    assert cli.main([*argv, "--models", "sonnet,haiku", "--data-dir", str(tmp_path)]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("sk-cca-")
    store = _store(tmp_path)
    principal = KeyRing(store, [], None).authenticate(key)
    assert (principal.name, principal.rpm, principal.tpm, principal.max_concurrent) == ("ci", 5, 1000, 2)
    assert principal.models == ("sonnet", "haiku")
    assert cli.main(["keys", "create", "--name", "ci", "--data-dir", str(tmp_path)]) == 1  # names are unique


def test_keys_list_never_shows_the_key_and_revoke_marks_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    cli.main(["keys", "create", "--name", "alice", "--data-dir", str(tmp_path)])
    key = capsys.readouterr().out.strip()
    assert cli.main(["keys", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and key not in listing and key[:11] in listing
    assert cli.main(["keys", "revoke", "alice", "--data-dir", str(tmp_path)]) == 0
    assert cli.main(["keys", "revoke", "alice", "--data-dir", str(tmp_path)]) == 1
    capsys.readouterr()
    cli.main(["keys", "list", "--data-dir", str(tmp_path)])
    alice = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("alice"))
    assert str(date.today().year) in alice.split()[3]  # the revoked column is filled


def test_data_dir_also_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("CLAUDE_CODE_API_DATA_DIR", str(tmp_path))
    assert cli.main(["keys", "create", "--name", "env"]) == 0
    assert [k.name for k in _store(tmp_path).list_keys()] == ["env"]


def test_usage_prints_rows_filtered_by_key_and_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    store = _store(tmp_path)
    store.add_usage("alice", "claude-sonnet-5-5", TokenUsage(100, 20, 30, 40), 0.0125, date(2026, 3, 1))
    store.add_usage("bob", "claude-haiku-5-5", TokenUsage(1, 2), 0.001, date(2026, 3, 2))
    store.close()
    assert cli.main(["usage", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "bob" in out and out.splitlines()[-1].split()[:3] == ["total", "2", "101"]
    cli.main(["usage", "--key", "alice", "--data-dir", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["2026-03-01", "alice", "claude-sonnet-5-5", "1", "100", "20", "30", "40", "0.012500"]
    cli.main(["usage", "--since", "2026-03-02", "--data-dir", str(tmp_path)])
    assert "alice" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("host", "keys", "loud"), [("0.0.0.0", [], True), ("127.0.0.1", [], False), ("0.0.0.0", ["k"], False)]
)
def test_serving_beyond_localhost_without_keys_warns_loudly(tmp_path: Path, caplog, host, keys, loud) -> None:
    import logging

    caplog.set_level(logging.INFO)
    cli._announce_auth(Settings(host=host, api_keys=keys, data_dir=tmp_path), logging.getLogger("t"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warnings) == loud
    if loud:
        assert "NO API KEYS ARE CONFIGURED" in warnings[0].getMessage()
