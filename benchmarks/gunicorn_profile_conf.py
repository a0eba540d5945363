"""service/gunicorn_conf.py with cProfile in every worker (benchmarks.serve_profile --profile).

Each worker profiles from the end of its start-up (its app and model are built) until it exits,
and writes `worker-<pid>.prof` into the folder BENCH_PROFILE_DIR names. The config file is run, not imported:
importing the `service` package in gunicorn's master is what that file avoids.
"""
import cProfile
import os
import runpy
import time
from pathlib import Path

_repo_conf = runpy.run_path(str(Path(__file__).resolve().parents[1] / "service" / "gunicorn_conf.py"))
globals().update({name: value for name, value in _repo_conf.items() if not name.startswith("__")})
_repo_post_worker_init, _repo_worker_exit = _repo_conf["post_worker_init"], _repo_conf["worker_exit"]


def post_worker_init(worker):
    _repo_post_worker_init(worker)
    worker.profiler = cProfile.Profile(time.process_time)  # CPU, not waits for a socket, a lock or a core
    worker.profiler.enable()


def worker_exit(server, worker):
    profiler = getattr(worker, "profiler", None)
    if profiler is not None:
        profiler.disable()
        folder = Path(os.environ["BENCH_PROFILE_DIR"])  # benchmarks.serve_profile.PROFILE_DIR_ENV
        profiler.dump_stats(str(folder / f"worker-{os.getpid()}.prof"))
    _repo_worker_exit(server, worker)
