"""Agent mode's file endpoints: a remote client puts inputs into a workspace and takes results out.

``GET /v1/workspaces`` lists the key's workspaces; ``GET …/{name}/files`` lists a workspace's files;
``GET``/``PUT …/{name}/files/{path}`` download and upload one file (the raw bytes are the body);
``DELETE /v1/workspaces/{name}`` deletes a workspace. Only where agent mode is on, and only for keys that may use it;
every path stays inside the key's own workspace (``service/workspaces.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from claude_code_api.errors import NotFound, PermissionDenied
from claude_code_api.http.deps import record_of, state_of
from claude_code_api.ops.keys import Principal
from claude_code_api.service.workspaces import FileEntry, Workspaces

router = APIRouter()


def _access(request: Request) -> tuple[Workspaces, Principal | None]:
    state = state_of(request)
    if not state.settings.agent:
        raise NotFound("Workspaces exist only where agent mode is on (CLAUDE_CODE_API_AGENT=true).")
    record = record_of(request)
    principal = record.principal if record is not None else None
    if principal is not None and not principal.agent:
        raise PermissionDenied(f"The API key '{principal.name}' may not use agent mode or its workspaces.")
    return state.service.workspaces, principal


def _file_json(entry: FileEntry) -> dict[str, Any]:
    return {"object": "workspace.file", "path": entry.path, "bytes": entry.bytes, "modified_at": int(entry.modified)}


@router.get("/v1/workspaces")
async def list_workspaces(request: Request) -> dict[str, Any]:
    workspaces, principal = _access(request)
    names = await asyncio.to_thread(workspaces.names, principal)
    return {"object": "list", "data": [{"object": "workspace", "name": name} for name in names]}


@router.get("/v1/workspaces/{name}/files")
async def list_files(request: Request, name: str) -> dict[str, Any]:
    workspaces, principal = _access(request)
    entries = await asyncio.to_thread(workspaces.files, principal, name)
    return {"object": "list", "data": [_file_json(e) for e in entries]}


@router.get("/v1/workspaces/{name}/files/{path:path}", response_model=None)
async def download_file(request: Request, name: str, path: str) -> FileResponse:
    workspaces, principal = _access(request)
    found = await asyncio.to_thread(workspaces.file_path, principal, name, path)
    return FileResponse(found, media_type="application/octet-stream", filename=found.name)


@router.put("/v1/workspaces/{name}/files/{path:path}", status_code=201)
async def upload_file(request: Request, name: str, path: str) -> JSONResponse:
    workspaces, principal = _access(request)
    data = await request.body()
    entry = await asyncio.to_thread(workspaces.write, principal, name, path, data)
    return JSONResponse(_file_json(entry), status_code=201)


@router.delete("/v1/workspaces/{name}")
async def delete_workspace(request: Request, name: str) -> dict[str, Any]:
    workspaces, principal = _access(request)
    await asyncio.to_thread(workspaces.delete, principal, name)
    return {"object": "workspace.deleted", "name": name, "deleted": True}
