"""The web console the server serves itself: ``/console`` (``/`` redirects there) and its two assets.

Plain HTML, one vanilla-JS file and one stylesheet shipped in this package: no CDN, no build step, and the charts are
hand-drawn SVG bars (a charting library would be the bulk of the page for two bar charts). The page is public; what
it shows comes from the server's own API, called with the key the user types into the page, like any client. A
strict Content-Security-Policy keeps the page to its own origin. ``create_app`` mounts the router only when
``console_enabled`` is on, so a disabled console answers 404.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from claude_code_api.http.auth import ops_of

CONSOLE_PATH = "/console"
ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@cache
def _read(name: str) -> bytes:
    return (files(__package__) / "static" / name).read_bytes()


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse(CONSOLE_PATH, status_code=302)


@router.get(CONSOLE_PATH)
async def page() -> Response:
    return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get(CONSOLE_PATH + "/config.json")
async def config(request: Request) -> dict[str, bool]:
    """Whether the API needs a key, so the page asks for one instead of firing requests that must fail (a 401
    tells anyone the same), and whether agent mode is on, so the playground offers a workspace."""
    ops = ops_of(request)
    settings = ops.settings
    keys_required = bool(settings.api_keys or settings.admin_key) or await ops.live.has_keys()
    return {"keys_required": keys_required, "agent": settings.agent}


@router.get(CONSOLE_PATH + "/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:  # a fixed list: no path from the URL ever reaches the file system
        raise HTTPException(404, "Not found.")
    return Response(_read(name), media_type=ASSETS[name], headers=_HEADERS)
