"""The console's routes (public, off by a setting) and the admin endpoints it uses to manage keys and show recent
errors, through the real app with the FakeEngine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from claude_code_api.app import create_app
from claude_code_api.engine.fake import FakeEngine
from claude_code_api.ops.recent import RecentErrors
from claude_code_api.ops.usage import RequestRecord
from claude_code_api.settings import Settings

ADMIN = "admin-secret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(tmp: Path, **settings: Any) -> httpx.AsyncClient:
    app = create_app(Settings(data_dir=tmp, admin_key=ADMIN, **settings), engine=FakeEngine())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(tmp_path) as c:
        yield c


async def test_console_loads_without_a_key_and_root_redirects_to_it(client: httpx.AsyncClient) -> None:
    root = await client.get("/")
    assert root.status_code == 302 and root.headers["location"] == "/console"
    page = await client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<script src="/console/console.js"' in page.text and "https://" not in page.text  # nothing from a CDN
    js = await client.get("/console/console.js")
    css = await client.get("/console/console.css")
    assert js.headers["content-type"].startswith("text/javascript") and "buildRequest" in js.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await client.get("/console/..%2Fsettings.py")).status_code in (401, 404)
    assert (await client.get("/v1/models")).status_code == 401  # the API itself still needs the key
    assert (await client.get("/console/config.json")).json() == {"keys_required": True, "agent": False}


async def test_console_can_be_turned_off(tmp_path: Path) -> None:
    async with _client(tmp_path, console_enabled=False) as c:
        assert (await c.get("/console")).status_code == 404
        assert (await c.get("/")).status_code == 404


async def test_admin_creates_a_key_shown_once_that_works_until_revoked(client: httpx.AsyncClient) -> None:
    body = {"name": "alice", "rpm": 10, "models": ["sonnet"]}
    created = await client.post("/v1/admin/keys", json=body, headers=AS_ADMIN)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("sk-cca-") and created.json()["rpm"] == 10 and created.json()["models"] == ["sonnet"]
    listed = (await client.get("/v1/admin/keys", headers=AS_ADMIN)).json()["data"]
    assert [k["name"] for k in listed] == ["alice"] and key not in str(listed)
    as_alice = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/models", headers=as_alice)).status_code == 200
    again = await client.post("/v1/admin/keys", json=body, headers=AS_ADMIN)
    assert again.status_code == 409 and "exists already" in again.json()["error"]["message"]

    revoked = await client.delete("/v1/admin/keys/alice", headers=AS_ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert (await client.get("/v1/models", headers=as_alice)).status_code == 401
    assert (await client.delete("/v1/admin/keys/alice", headers=AS_ADMIN)).status_code == 404


async def test_key_management_needs_the_admin_key(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/admin/keys", json={"name": "x"})).status_code == 401
    made = await client.post("/v1/admin/keys", json={"name": "user"}, headers=AS_ADMIN)
    as_user = {"Authorization": f"Bearer {made.json()['key']}"}
    assert (await client.post("/v1/admin/keys", json={"name": "y"}, headers=as_user)).status_code == 403
    assert (await client.delete("/v1/admin/keys/user", headers=as_user)).status_code == 403
    assert (await client.get("/v1/admin/errors", headers=as_user)).status_code == 403


async def test_cross_site_and_non_json_admin_calls_are_refused(client: httpx.AsyncClient) -> None:
    foreign = {**AS_ADMIN, "Origin": "https://evil.example"}
    refused = await client.post("/v1/admin/keys", json={"name": "x"}, headers=foreign)
    assert refused.status_code == 403 and "Cross-site" in refused.json()["error"]["message"]
    form = await client.post("/v1/admin/keys", data={"name": "x"}, headers=AS_ADMIN)
    assert form.status_code == 400 and "application/json" in form.json()["error"]["message"]
    await client.post("/v1/admin/keys", json={"name": "kept"}, headers=AS_ADMIN)
    assert (await client.delete("/v1/admin/keys/kept", headers=foreign)).status_code == 403
    same_site = {**AS_ADMIN, "Origin": "http://test"}
    assert (await client.delete("/v1/admin/keys/kept", headers=same_site)).status_code == 200


async def test_bad_key_bodies_get_400(client: httpx.AsyncClient) -> None:
    for body in ({"name": ""}, {"name": "x", "rpm": 0}, {"name": "x", "colour": "red"}, {}):
        response = await client.post("/v1/admin/keys", json=body, headers=AS_ADMIN)
        assert response.status_code == 400, body
        assert response.json()["error"]["type"] == "invalid_request_error"


async def test_recent_errors_lists_failed_requests_newest_first(client: httpx.AsyncClient) -> None:
    await client.get("/v1/models", headers={"Authorization": "Bearer wrong"})
    await client.post("/v1/chat/completions", json={"model": "no-such-model", "messages": []}, headers=AS_ADMIN)
    await client.get("/v1/models", headers=AS_ADMIN)  # a success is not an error
    errors = (await client.get("/v1/admin/errors", headers=AS_ADMIN)).json()["data"]
    assert [(e["status"], e["path"]) for e in errors] == [(400, "/v1/chat/completions"), (401, "/v1/models")]
    assert errors[1]["error"] == "Unauthenticated" and errors[0]["key"] == "admin"


def test_recent_errors_keep_only_the_newest() -> None:
    ring = RecentErrors(size=3)
    for status in (500, 200, 401, 429, 502):
        ring.add(RequestRecord(request_id=str(status), method="GET", path="/x", status=status))
    assert [e["status"] for e in ring.newest_first()] == [502, 429, 401]
