"""The teachers' worker processes (training.model_fitting fits the teachers side by side in them).

Each worker holds one OpenMP thread (training.model_fitting's docstring says why); joblib hands
the big arrays over as memory maps, not copies, and keeps the processes between calls made with
the same settings (`teacher_pool`). That is what lets `start_teacher_processes` start them early:
a worker's start-up (a Python process importing scikit-learn and this package, seconds of CPU)
then runs on the core the fitting process leaves idle while it encodes the claims and fits the
denial model, instead of after it, while every core waits for the teachers.
"""
from __future__ import annotations

import importlib
import os
from concurrent.futures import Future, ThreadPoolExecutor

from joblib import Parallel, delayed

from scoring.params import ModelParams

# Below this many training claims the teachers are fitted in this process: starting worker
# processes (each imports scikit-learn) costs more than a small fit.
PARALLEL_TEACHERS_MIN_ROWS = 20_000
# What a worker imports before its first teacher: the module whose function it runs.
TEACHER_MODULE = "training.model_fitting"


def teacher_processes(params: ModelParams, training_rows: int) -> int:
    """How many teachers are fitted at once, each in a process of its own (1: in this one)."""
    if training_rows < PARALLEL_TEACHERS_MIN_ROWS:
        return 1
    cores = params.fit_threads or os.cpu_count() or 1
    return max(1, min(params.teacher_processes or cores, params.teachers))


def teacher_pool(processes: int) -> Parallel:
    """The pool every call for teachers goes through: the same settings each time, so joblib
    hands the same worker processes to each call."""
    return Parallel(n_jobs=processes, backend="loky", inner_max_num_threads=1, return_as="generator")


def start_teacher_processes(params: ModelParams, training_rows: int) -> Future | None:
    """Start the teachers' worker processes in the background; the future holds their process
    ids once each has imported what a teacher needs (wait for it before the pool's next call: one
    caller at a time). None when the teachers of `training_rows` claims are fitted in this process."""
    processes = teacher_processes(params, training_rows)
    if processes <= 1:
        return None
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="teacher-processes")
    started = starter.submit(worker_ids, processes)
    starter.shutdown(wait=False)
    return started


def start_teachers_for(params: ModelParams, claims: int) -> Future | None:
    """start_teacher_processes for a fit on `claims` claims (train and validation), before the
    rules have excluded any: at most that many train the teachers, so a fit that will need no
    teachers (past `distil_max_rows`) starts none; one whose rules leave fewer than
    PARALLEL_TEACHERS_MIN_ROWS finds its workers started for nothing (they stop when idle)."""
    training_rows = int(claims * (1 - params.holdout_fraction))
    if params.teachers <= 1 or training_rows > params.distil_max_rows:
        return None
    return start_teacher_processes(params, training_rows)


def worker_ids(processes: int) -> set[int]:
    """The process ids of the pool's workers, each made ready for a teacher."""
    return set(teacher_pool(processes)(delayed(_ready_worker)() for _ in range(processes)))


def _ready_worker() -> int:
    importlib.import_module(TEACHER_MODULE)
    return os.getpid()
