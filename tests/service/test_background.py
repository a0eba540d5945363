"""Background jobs of a worker (service.background): each runs on its schedule in a daemon thread the
app owns, survives a failing run (logged by type, never by message) and stops at once when asked."""
from __future__ import annotations

import json
import threading
import time

from service.background import EXTENSION, start_job, stop_jobs


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the job did not run in time"
        time.sleep(0.01)


def test_a_job_runs_on_its_schedule_until_stop_jobs(app):
    runs = []
    job = start_job(app, "tick", 0.01, lambda: runs.append(time.monotonic()))
    assert app.extensions[EXTENSION][-1] is job and job.name == "tick"
    wait_for(lambda: len(runs) >= 3)
    assert job.alive
    stop_jobs(app, timeout=5)
    assert not job.alive
    stopped = len(runs)
    time.sleep(0.05)
    assert len(runs) == stopped


def test_stop_wakes_a_waiting_job_at_once_and_waits_for_a_run_in_progress(app):
    runs, started, release = [], threading.Event(), threading.Event()
    idle = start_job(app, "hourly", 3600, lambda: runs.append("hourly"))

    def slow_run():
        started.set()
        release.wait(5)
        runs.append("slow")

    busy = start_job(app, "busy", 0.01, slow_run)
    started.wait(5)
    threading.Timer(0.2, release.set).start()
    begun = time.monotonic()
    stop_jobs(app, timeout=10)
    assert time.monotonic() - begun < 5  # not an hour
    assert not idle.alive and not busy.alive
    assert runs == ["slow"]  # the run in progress finished; the hourly job never ran


def test_a_failing_run_is_logged_by_type_and_the_schedule_goes_on(app, log_lines):
    runs = []

    def flaky():
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("SECRET-CLAIM-DETAIL")

    start_job(app, "flaky", 0.01, flaky)
    wait_for(lambda: len(runs) >= 3)
    stop_jobs(app, timeout=5)
    failures = [json.loads(line) for line in log_lines() if "background job failed" in line]
    assert [(line["error_type"], line["detail"]) for line in failures] == [("ValueError", "flaky")]
    assert not any("SECRET-CLAIM-DETAIL" in line for line in log_lines())


def test_an_app_runs_only_the_file_jobs_runner_unless_asked_and_stop_jobs_stops_it(app):
    """With the model poller, the monitor and retention off (as the test app has them), the one job
    left is the runner of scored files (service.file_jobs), which every worker needs."""
    assert [job.name for job in app.extensions[EXTENSION]] == ["file-jobs"]
    stop_jobs(app, timeout=5)
    assert not any(job.alive for job in app.extensions[EXTENSION])


def test_wake_runs_a_job_now_rather_than_at_the_end_of_its_wait(app):
    runs = []
    job = start_job(app, "hourly", 3600, lambda: runs.append(1))
    job.wake()
    wait_for(lambda: runs == [1])
    stop_jobs(app, timeout=5)
