"""Files the server writes are private to its user: directories 0700, files 0600, whatever the umask.

Transcripts hold conversation text and the ops store holds key hashes and usage, so nothing the server writes may
be readable by other users. Modes are set explicitly (``chmod`` after creation), never by changing the umask, which
is process-wide and would race with every other thread. SQLite gives a database's ``-wal``/``-shm``/``-journal``
files the mode of the database file, so creating that file 0600 before SQLite opens it keeps them private too; files
an older version left readable are tightened on open.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make ``path`` itself 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    """Create ``path`` empty if it is missing; either way make it 0600 (its directory must exist)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (replacing it) as a 0600 file."""
    ensure_private_file(path)
    path.write_text(text, encoding="utf-8")
    return path


def connect_private_sqlite(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """``sqlite3.connect`` to a database in a private directory whose file and side files are 0600."""
    ensure_private_dir(path.parent)
    ensure_private_file(path)
    for suffix in _SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(FILE_MODE)
    connection: sqlite3.Connection = sqlite3.connect(path, **kwargs)
    return connection
