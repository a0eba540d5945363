"""Files that hold claims (patient data) are created for their owner alone: 0600, and the folders
made for them 0700, whatever the process umask. Existing folders keep their mode (they are the
operator's); an existing file is narrowed to 0600 before it is rewritten.

Used by every command output with claims in it (`predict`'s scored and rejected files,
`validate --quarantine`), by the service's audit store, dev-key hash file, file jobs and lock files
(a lock file anyone can open is a lock anyone can hold: flock needs only a read-only descriptor). SQLite creates a
database's `-wal` and `-shm` files with the database file's mode, so an audit database created
here keeps its journal private too.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def make_private_dir(path: str | Path) -> Path:
    """`path` and any missing parents, each created 0700."""
    path = Path(path)
    missing, folder = [], path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        folder.chmod(PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    return path


def create_private_file(path: str | Path) -> Path:
    """Make sure `path` exists with mode 0600 (its folder made as make_private_dir does) and return
    it; writers that open the path afterwards (pyarrow, SQLite) keep the mode."""
    path = Path(path)
    make_private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)
    return path


def open_private(path: str | Path, mode: str = "w", **options):
    """`open(path, mode)` on a file created as create_private_file creates it."""
    return open(create_private_file(path), mode, **options)


def open_private_lock(path: str | Path):
    """A lock file opened for flock, created 0600 (an existing one narrowed), in a folder that must
    exist: a lock beside a job that was just deleted must not bring its folder back."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    except OSError:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "r+")


def make_private_folder_now(path: str | Path) -> Path:
    """`path` 0700 from now on, created when missing, narrowed when it exists (a folder of the
    service's own, such as var/, that holds other folders with claims)."""
    path = make_private_dir(path)
    path.chmod(PRIVATE_DIR_MODE)
    return path
