"""gunicorn's logger, with the end of a timed-out worker told as a timeout.

When a worker stays silent past gunicorn's `timeout` (a request running too long, or a client
holding a sync worker), the master logs "WORKER TIMEOUT", sends SIGABRT and, if the worker is not
gone a second later, SIGKILL; gunicorn then logs the SIGKILL as "Perhaps out of memory?", which
sent operators after memory when the cause was time. This logger remembers the workers the
master timed out and words the lines about their end accordingly; every other line is gunicorn's.
"""
from __future__ import annotations

from gunicorn.glogging import Logger

TIMEOUT_LINE = "WORKER TIMEOUT (pid:%s)"  # gunicorn.arbiter.Arbiter.murder_workers
WORKER_END_PREFIX = "Worker (pid:%s) "  # gunicorn.arbiter.Arbiter.reap_workers: "was sent %s!", "exited with code %s."
OUT_OF_MEMORY_GUESS = " Perhaps out of memory?"


class TimeoutAwareLogger(Logger):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.timed_out: set[int] = set()  # pids the master killed for their timeout (a few per incident)

    def critical(self, msg, *args, **kwargs):
        if msg == TIMEOUT_LINE and args:
            self.timed_out.add(args[0])
            msg = ("WORKER TIMEOUT (pid:%s): silent for more than the %s s timeout (a request ran that long, or a "
                   "client held the worker); it is stopped and replaced")
            args = (args[0], self.cfg.timeout)
        super().critical(msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        msg, args = self._after_timeout(msg, args)
        super().error(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        msg, args = self._after_timeout(msg, args)
        super().warning(msg, *args, **kwargs)

    def _after_timeout(self, msg, args):
        if isinstance(msg, str) and msg.startswith(WORKER_END_PREFIX) and args and args[0] in self.timed_out:
            msg = msg.replace(OUT_OF_MEMORY_GUESS, "") + " (after its timeout, not for lack of memory)"
        return msg, args
