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
