"""The README's own examples run against a real server (the fake upstream answers), so the docs stay true."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
README = (Path(__file__).parents[2] / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_the_python_quick_example_runs(server):
    example = code_blocks("python")[0].replace("http://localhost:8000", server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    assert "Hello from the fake upstream." in out.getvalue()


def test_the_multi_turn_example_runs(server):
    setup = code_blocks("python")[0].split("response = ")[0].replace("http://localhost:8000", server.url)
    example = setup + code_blocks("python")[1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    assert out.getvalue().strip() == "Hello from the fake upstream."


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example_runs(server):
    block = code_blocks("bash")[1].split("# Streaming")[0]
    command = shlex.split(block.replace("\\\n", " ").replace("http://localhost:8000", server.url))
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    body = json.loads(result.stdout)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "Hello from the fake upstream."


@pytest.fixture(scope="session")
def openai_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """openai-node (pinned) from the npm registry, for the README's JavaScript example."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is not installed")
    folder = tmp_path_factory.mktemp("openai-node")
    install = ["npm", "install", "--silent", "--no-audit", "--no-fund", "openai@6.49.0"]
    if subprocess.run(install, cwd=folder, capture_output=True, timeout=180).returncode != 0:
        pytest.skip("the npm registry is not reachable")
    return folder


def test_the_javascript_example_runs(server, openai_node):
    example = code_blocks("javascript")[0].replace("http://localhost:8000", server.url)
    script = openai_node / "example.mjs"
    script.write_text(example)
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.startswith("Hello from the fake upstream.")


def test_the_agent_mode_examples_run(make_server, tmp_path):
    """The README's agent-mode Python and curl examples, against a server with agent mode on."""
    running = make_server(agent=True, pool_prestart=False)
    (python,) = [block for block in code_blocks("python") if "claude_code" in block]
    (shell,) = [block for block in code_blocks("bash") if "/v1/workspaces/" in block]
    workspace = running.app.state.api.service.workspaces.directory(None, "my-project")
    (workspace / "app.py").write_text("def add(a, b):\n    return a + b\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python.replace("http://localhost:8000", running.url), "README.md", "exec"), {})
    assert "Hello from the fake upstream." in out.getvalue()
    commands = [line for line in shell.replace("\\\n", " ").splitlines() if line.startswith("curl")]
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    (tmp_path / "app.py").write_text("def add(a, b):\n    return a + b\n")  # the local file the upload sends
    outputs = []
    for line in commands:
        command = shlex.split(line.split(" #")[0].replace("http://localhost:8000", running.url))
        outputs.append(subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path).stdout)
    assert json.loads(outputs[0])["path"] == "app.py", "the upload"
    assert "app.py" in outputs[1] and "return a + b" in outputs[2]
    assert json.loads(outputs[3])["deleted"] is True
    assert json.loads(outputs[4])["object"] == "chat.completion", "the agent model name"
