"""Periodic background work of a worker process: the model poller and the scheduled monitor.

Each job is one daemon thread that waits on an Event between runs, so `stop()` wakes it at once
and returns when the run in progress (if any) has finished; `wake()` starts the next run now
(an uploaded file is scored without waiting for the next poll). The threads start in `init_app`, after
gunicorn forked the worker (preload_app is off), never at import. An exception in a run is logged
(type and stack only, as every log line here) and the next run happens on schedule.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from flask import Flask

from common.private_files import open_private_lock

log = logging.getLogger(__name__)
EXTENSION = "background_jobs"


class PeriodicJob:
    def __init__(self, name: str, seconds: float, run: Callable[[], object]):
        self.name, self.seconds, self._run = name, seconds, run
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"medspa-{name}", daemon=True)

    def start(self) -> "PeriodicJob":
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Whether stop() was called: a long run checks this to end early."""
        return self._stop.is_set()

    def wake(self) -> None:
        """Run now rather than at the end of the wait (a run in progress is followed by another)."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._run()
            except Exception:  # noqa: BLE001  (a failed run must not end the schedule)
                log.exception("background job failed", extra={"detail": self.name})


def start_job(app: Flask, name: str, seconds: float, run: Callable[[], object]) -> PeriodicJob:
    """Start `run` every `seconds` in a daemon thread owned by `app` (stopped by stop_jobs)."""
    job = PeriodicJob(name, seconds, run).start()
    app.extensions.setdefault(EXTENSION, []).append(job)
    return job


def stop_jobs(app: Flask, timeout: float | None = 30.0) -> None:
    """Stop every background job of `app` (gunicorn's worker_exit calls this)."""
    for job in app.extensions.get(EXTENSION, []):
        job.stop(timeout)


class LockTimeout(RuntimeError):
    """A lock was not free within its timeout; the message names the file and its holder."""


@contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """A host-wide non-blocking lock: True when this process holds it. The file is owner-only."""
    with open_private_lock(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def waited_lock(path: Path, timeout: float, poll: float = 0.05) -> Iterator[None]:
    """A host-wide exclusive lock, waited for at most `timeout` seconds (the file owner-only); past
    that LockTimeout names the process holding it, so a stuck start says whom to look at."""
    with open_private_lock(path) as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{path}: still locked by {lock_holder(handle.fileno())} after "
                                      f"{timeout:g} s; stop that process, or wait for it, and start again") from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_holder(descriptor: int, locks: Path = Path("/proc/locks")) -> str:
    """`pid N` of the process holding a flock on the open file, from Linux's lock table, or
    "another process" where there is none to read."""
    status = os.fstat(descriptor)
    device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        lines = locks.read_text().splitlines()
    except OSError:
        return "another process"
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a waiter's line has "->" after the number
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            return f"pid {fields[4]}"
    return "another process"
