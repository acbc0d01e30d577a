"""Agent mode's pure parts: the workspace guard's decisions, workspace names and paths, the activity lines, the
doctor's agent check, and a transcript's agent steps not counting as turns the client sees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from claude_code_api import cli
from claude_code_api.core.activity import result_summary, use_summary
from claude_code_api.core.request import AgentSpec, Turn
from claude_code_api.doctor import check_agent_mode
from claude_code_api.engine.claude.agent import WorkspaceGuard, agent_settings
from claude_code_api.engine.claude.transcript import chain_matches
from claude_code_api.errors import InvalidRequest, NotFound, RequestTooLarge
from claude_code_api.ops.keys import Principal
from claude_code_api.service.workspaces import Workspaces, check_name
from claude_code_api.settings import DEFAULT_AGENT_TOOLS, Settings


@pytest.fixture
def guard(tmp_path: Path) -> WorkspaceGuard:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "link-out").symlink_to("/etc")
    (root / "link-in").symlink_to(root / "sub", target_is_directory=True)
    return WorkspaceGuard(root, DEFAULT_AGENT_TOOLS)


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Read", {"file_path": "notes.md"}),
        ("Write", {"file_path": "sub/new.txt", "content": "x"}),
        ("Edit", {"file_path": "link-in/a.txt"}),
        ("Glob", {"pattern": "**/*.py"}),
        ("Grep", {"pattern": "TODO", "path": "sub", "glob": "*.md"}),
        ("TaskCreate", {"subject": "plan"}),
    ],
)
def test_the_guard_allows_work_inside_the_workspace(guard, tool, tool_input):
    assert guard.decide(tool, tool_input) is None


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Read", {"file_path": "/etc/passwd"}),
        ("Read", {"file_path": "../other/secret.txt"}),
        ("Read", {"file_path": "link-out/passwd"}),
        ("Read", {"file_path": "~/.ssh/id_rsa"}),
        ("Write", {"file_path": "/tmp/x", "content": "x"}),
        ("Glob", {"pattern": "../../**"}),
        ("Glob", {"pattern": "/etc/*"}),
        ("Grep", {"pattern": "root", "path": "/etc"}),
        ("Grep", {"pattern": "root", "glob": "../*"}),
        ("Bash", {"command": "ls"}),
        ("WebFetch", {"url": "https://example.com"}),
    ],
)
def test_the_guard_denies_escapes_and_tools_not_given(guard, tool, tool_input):
    assert guard.decide(tool, tool_input)


def test_bash_gets_a_mandatory_sandbox_that_protects_the_servers_files():
    spec = AgentSpec("w", ("Read", "Bash"), 5, "/data/workspaces/local/w")
    sandbox = agent_settings(spec, sandbox=True, protected=["/data", "/home/u/.claude"])["sandbox"]
    assert sandbox["enabled"] and sandbox["failIfUnavailable"] and not sandbox["allowUnsandboxedCommands"]
    assert sandbox["filesystem"]["allowWrite"] == [spec.directory]
    assert sandbox["filesystem"]["denyRead"] == ["/data", "/home/u/.claude"]
    assert agent_settings(AgentSpec("w", ("Read",), 5, "/d"), sandbox=True) == {}, "no Bash, nothing to sandbox"


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", "", ".", "..", "a..b", "x" * 65, "a\x00b", 7, ".hidden"])
def test_bad_workspace_names_are_refused(name):
    with pytest.raises(InvalidRequest):
        check_name(name)


def test_each_key_has_its_own_workspaces_and_paths_stay_inside(tmp_path):
    spaces = Workspaces(Settings(data_dir=tmp_path))
    alice, bob = Principal("alice", agent=True), Principal("bob", agent=True)
    assert spaces.directory(alice, "w") != spaces.directory(bob, "w")
    spaces.write(alice, "w", "dir/a.txt", b"hi")
    assert [f.path for f in spaces.files(alice, "w")] == ["dir/a.txt"]
    assert spaces.files(bob, "w") == []
    with pytest.raises(NotFound):
        spaces.files(bob, "never")
    (spaces.directory(alice, "w") / "out").symlink_to("/etc")
    for escape in ("../x", "/etc/passwd", "out/passwd"):
        with pytest.raises((InvalidRequest, NotFound)):
            spaces.file_path(alice, "w", escape)
    assert oct(spaces.directory(alice, "w").stat().st_mode & 0o777) == "0o700"


def test_mapped_workspaces_are_for_the_single_local_user_only(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    spaces = Workspaces(Settings(data_dir=tmp_path / "data", workspaces={"repo": str(repo)}))
    assert spaces.directory(None, "repo") == repo.resolve()
    assert spaces.directory(Principal("carol", agent=True), "repo") != repo.resolve()


def test_activity_lines_say_what_happened():
    use = use_summary("Read", {"file_path": "/w/src/app.py"}, "/w")
    assert use == "Read src/app.py"
    assert result_summary("Read", use, "1\ta\n2\tb\n3\tc\n4\t", False) == "Read src/app.py: 3 lines"
    assert result_summary("Edit", "Edit x", "<tool_use_error>denied</tool_use_error>", True) == "Edit x: failed: denied"


def test_an_agents_inner_steps_are_not_turns_the_client_sees():
    def line(kind: str, content: list[dict[str, object]], uid: str, parent: str | None) -> str:
        message = {"role": kind, "content": content}
        return json.dumps({"type": kind, "uuid": uid, "parentUuid": parent, "message": message})

    lines = [
        line("user", [{"type": "text", "text": "fix it"}], "1", None),
        line("assistant", [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}], "2", "1"),
        line("user", [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}], "3", "2"),
        line("assistant", [{"type": "text", "text": "Fixed."}], "4", "3"),
    ]
    client_view = [
        Turn("user", ({"type": "text", "text": "fix it"},)),
        Turn("assistant", ({"type": "text", "text": "Fixed."},)),
    ]
    assert chain_matches(lines, client_view)


def test_doctor_reports_agent_mode_and_its_sandbox(tmp_path, monkeypatch):
    assert check_agent_mode(Settings(data_dir=tmp_path)).status == "skip"
    assert check_agent_mode(Settings(data_dir=tmp_path, agent=True)).status == "ok"
    bash = Settings(data_dir=tmp_path, agent=True, agent_tools=["Read", "Bash"])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    failed = check_agent_mode(bash)
    assert failed.status == "fail" and "bubblewrap" in failed.detail and failed.fix
    unsandboxed = Settings(data_dir=tmp_path, agent=True, agent_tools=["Bash"], agent_sandbox=False)
    assert check_agent_mode(unsandboxed).status == "warn"


def test_an_upload_over_the_limit_is_refused(tmp_path):
    spaces = Workspaces(Settings(data_dir=tmp_path, workspace_max_file_bytes=10))
    with pytest.raises(RequestTooLarge):
        spaces.write(None, "w", "big.bin", b"x" * 11)
    assert spaces.write(None, "w", "ok.bin", b"x" * 10).bytes == 10


def test_serve_refuses_agent_mode_with_bash_where_the_sandbox_cannot_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    settings = Settings(data_dir=tmp_path, agent=True, agent_tools=["Read", "Bash"], cli_path="/nonexistent/claude")
    assert cli.serve(settings) == 2
    assert "bubblewrap" in capsys.readouterr().err
