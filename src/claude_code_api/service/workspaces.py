"""Workspaces: the directories agent mode works in, and the files clients move in and out of them.

A workspace is ``<workspaces_dir>/<owner>/<name>``, created on first use. ``owner`` is the key's own namespace
(a hash of its name; ``local`` when the server has no keys), so one key can never name another key's workspace.
The operator may also map names to existing directories (``CLAUDE_CODE_API_WORKSPACES``); those are for
single-user local use, offered only when the server has no keys and to the admin key.

Every path a client names is resolved (symlinks followed) and must stay inside the workspace: a link that leads
out counts as outside. Directories are private (0700) and files 0600, like the rest of the data directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from claude_code_api.errors import InvalidRequest, NotFound, RequestTooLarge
from claude_code_api.ops.keys import ADMIN, ANONYMOUS, Principal
from claude_code_api.private_files import ensure_private_dir
from claude_code_api.settings import Settings

DEFAULT_WORKSPACE = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LISTED_FILES = 10_000  # a listing stops here (a workspace holding a whole repository is still listed quickly)


@dataclass(frozen=True)
class FileEntry:
    path: str
    bytes: int
    modified: float


def check_name(name: object) -> str:
    """A workspace name: letters, digits, ``.``, ``_`` and ``-``; no ``/``, ``..``, absolute paths or NUL."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidRequest(
            "workspace must be a name of 1-64 letters, digits, '.', '_' or '-' (no '/', '..' or absolute path).",
            param="workspace",
        )
    return name


def inside(root: Path, candidate: Path) -> bool:
    """``candidate`` (resolved, symlinks followed) is ``root`` or below it."""
    try:
        candidate.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _contained(root: Path, relative: str) -> Path:
    """``relative`` under ``root``; 400 for a path that is absolute, climbs with ``..`` or leads out by a symlink."""
    if not relative or "\x00" in relative or relative.startswith("/") or ".." in Path(relative).parts:
        raise InvalidRequest("The file path must be relative to the workspace, without '..'.", param="path")
    path = root / relative
    if not inside(root, path):
        raise InvalidRequest("The file path leads outside the workspace.", param="path")
    return path


class Workspaces:
    def __init__(self, settings: Settings) -> None:
        self._root = settings.workspaces_dir
        self._mapped = {check_name(k): Path(v) for k, v in settings.workspaces.items()}
        self._max_file = settings.workspace_max_file_bytes

    # -- naming ----------------------------------------------------------------------------------
    def _owner_dir(self, principal: Principal | None) -> Path:
        name = principal.name if principal is not None else ANONYMOUS
        owner = "local" if name == ANONYMOUS else "key-" + hashlib.sha256(name.encode()).hexdigest()[:24]
        return self._root / owner

    def _mapped_for(self, principal: Principal | None) -> dict[str, Path]:
        single_user = principal is None or principal.name in (ANONYMOUS, ADMIN)
        return self._mapped if single_user else {}

    def directory(self, principal: Principal | None, name: str, *, create: bool = True) -> Path:
        """The workspace's directory, resolved; created (private) on first use unless ``create`` is false."""
        check_name(name)
        mapped = self._mapped_for(principal).get(name)
        if mapped is not None:
            if not mapped.is_dir():
                raise InvalidRequest(
                    f"The mapped workspace '{name}' is not a directory on the server.", param="workspace"
                )
            return mapped.resolve()
        path = self._owner_dir(principal) / name
        if not path.is_dir():
            if not create:
                raise NotFound(f"No workspace named '{name}'.")
            ensure_private_dir(self._root)
            ensure_private_dir(path.parent)
            ensure_private_dir(path)
        return path.resolve()

    def names(self, principal: Principal | None) -> list[str]:
        owned = self._owner_dir(principal)
        found = sorted(p.name for p in owned.iterdir() if p.is_dir()) if owned.is_dir() else []
        return sorted({*found, *self._mapped_for(principal)})

    # -- files -----------------------------------------------------------------------------------
    def files(self, principal: Principal | None, name: str) -> list[FileEntry]:
        root = self.directory(principal, name, create=False)
        entries: list[FileEntry] = []
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not Path(folder, d).is_symlink())
            for file_name in sorted(names):
                path = Path(folder, file_name)
                if path.is_symlink() or not path.is_file():
                    continue
                stat = path.stat()
                entries.append(FileEntry(path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime))
                if len(entries) >= _LISTED_FILES:
                    return entries
        return entries

    def file_path(self, principal: Principal | None, name: str, relative: str, *, must_exist: bool = True) -> Path:
        """The file ``relative`` names inside the workspace (400 if it would leave it, 404 if missing)."""
        path = _contained(self.directory(principal, name, create=not must_exist), relative)
        if must_exist and not path.is_file():
            raise NotFound(f"No file '{relative}' in workspace '{name}'.")
        return path

    def write(self, principal: Principal | None, name: str, relative: str, data: bytes) -> FileEntry:
        if len(data) > self._max_file:
            raise RequestTooLarge(f"A workspace file may hold at most {self._max_file} bytes.")
        root = self.directory(principal, name)
        path = _contained(root, relative)
        for parent in reversed(path.relative_to(root).parents[:-1]):
            if not (root / parent).is_dir():  # new directories are private; a mapped repository's own stay as they are
                ensure_private_dir(root / parent)
        if path.is_dir():
            raise InvalidRequest(f"'{relative}' is a directory in the workspace.", param="path")
        temporary = path.with_name(f".{path.name}.upload-{secrets.token_hex(8)}")  # concurrent uploads never collide
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
        return FileEntry(relative, len(data), path.stat().st_mtime)

    def delete(self, principal: Principal | None, name: str) -> None:
        if name in self._mapped_for(principal):
            raise InvalidRequest(f"'{name}' is a directory the operator mapped; it is not deleted.", param="workspace")
        path = self.directory(principal, name, create=False)
        shutil.rmtree(path)
