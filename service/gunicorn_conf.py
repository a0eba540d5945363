"""gunicorn configuration for production: `gunicorn -c service/gunicorn_conf.py service.wsgi:app`.

Command-line options (`--bind`, `--workers`) override these. Why the choices:
- behind nginx when `medspa-coverage serve` runs (the production shape; service/proxy.py says why):
  it sets MEDSPA_COVERAGE_PROXY_LISTEN to the public address, gunicorn binds a Unix socket in
  nginx's run folder (0700, so only the service's user can connect), and the master starts nginx
  there once it listens (when_ready) and stops it when it exits (on_exit). The app then reads the
  client's address from the one X-Forwarded-For nginx sets: a loopback port would let anyone on
  the host reach gunicorn directly and choose that address, and with it their failed-key counter.
- sync workers, 2 by default: steadier than gthread for this CPU-bound service on 2 cores. The
  worker class is gunicorn's sync worker with one change (service/gunicorn_worker.py): a request
  gunicorn cannot parse gets the service's JSON error, and neither answer nor log quotes it.
- one native thread per worker: HistGradientBoosting's OpenMP pool, left at its default size in
  every worker, oversubscribes the cores and collapses throughput (13 vs 1,178 requests/s on this
  machine). OMP_NUM_THREADS is set here, in the master before any worker imports numpy or
  scikit-learn, and threadpoolctl caps whatever pools are loaded once the worker has built its app.
- preload_app off: each worker builds its own app and loads its own model after the fork.
- no max_requests: restarting a worker means reloading the model.
- each worker's app runs its own background jobs (model poller, scheduled monitor); worker_exit
  stops them.
- docs pages off (production) unless MEDSPA_COVERAGE_DOCS_ENABLED says otherwise.
- metrics (GET /metrics, service/metrics.py) summed over the workers: the master points
  PROMETHEUS_MULTIPROC_DIR at an empty private folder before the first worker forks (on_starting;
  an operator's own folder is emptied of old values instead), drops a gone worker's live gauges
  (child_exit) and removes the folder it made when it stops (on_exit).
- gc.freeze() once the worker has built its app: the model's objects leave the cyclic
  collector's reach, so a full collection no longer stalls a request (how long it did:
  benchmarks/RESULTS.md; a model swapped in later is not frozen).
"""
import gc
import os
import secrets
import shutil
import signal
import tempfile
from pathlib import Path

NATIVE_THREADS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _name in NATIVE_THREADS_ENV:
    os.environ[_name] = "1"
os.environ.setdefault("MEDSPA_COVERAGE_DOCS_ENABLED", "false")
# One secret for every worker (read here, in the master, before they fork), so a page session
# signed by one worker is read by the others; "s-" keeps it a string when settings parse JSON.
os.environ.setdefault("MEDSPA_COVERAGE_SESSION_SECRET", "s-" + secrets.token_urlsafe(32))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

wsgi_app = "service.wsgi:app"
chdir = str(Path(__file__).resolve().parents[1])
PROXY_LISTEN = os.environ.get("MEDSPA_COVERAGE_PROXY_LISTEN")  # service.proxy.LISTEN_ENV: nginx listens there
# service.proxy.RUN_DIR_ENV and DEFAULT_RUN_DIR (this file cannot import the package before the workers fork)
PROXY_DIR = Path(os.environ.get("MEDSPA_COVERAGE_PROXY_DIR") or Path(chdir) / "var" / "nginx")
UPSTREAM_SOCKET = PROXY_DIR / "gunicorn.sock"
if PROXY_LISTEN:
    bind = [f"unix:{UPSTREAM_SOCKET}"]  # in a 0700 folder (on_starting): nginx's alone to reach
    os.environ.setdefault("MEDSPA_COVERAGE_FORWARDED_FOR_HOPS", "1")
else:
    bind = [os.environ.get("MEDSPA_COVERAGE_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("MEDSPA_COVERAGE_WORKERS", "2"))
worker_class = "service.gunicorn_worker.QuietSyncWorker"  # sync, with JSON answers to unparsable requests
threads = 1
timeout = 30  # a worker silent this long is killed: the whole request budget, model included
graceful_timeout = 20  # SIGTERM: requests in flight get this long to finish
keepalive = 2
max_requests = 0
max_requests_jitter = 0
preload_app = False
accesslog = None  # the app writes its own JSON request log, with no patient data
# If an operator turns gunicorn's access log on (--access-logfile), a line says when, method, status,
# size, time and the request id that finds the app's JSON line; not the URL (an unknown path or a
# query string could carry patient data), the referer or the user agent. No format can hold a body.
access_log_format = '%(t)s %(m)s %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
logger_class = "service.gunicorn_log.TimeoutAwareLogger"  # a timed-out worker's end is logged as a timeout
loglevel = "info"
control_socket_disable = True  # unused, and a fixed socket path would collide between servers
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190


# service.metrics.MULTIPROCESS_DIR_ENV, prometheus_client's own name, written out: importing service.metrics
# here would import prometheus_client in the master before the variable is set, and the workers it forks
# would inherit a prometheus_client that counts per process.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server):
    """The master, before it binds and before any worker: the socket's private folder, and one empty
    folder for every worker's metric files."""
    if PROXY_LISTEN:
        PROXY_DIR.mkdir(parents=True, exist_ok=True)
        PROXY_DIR.chmod(0o700)  # whatever its mode was: connecting to the socket needs this folder
    folder = os.environ.get(METRICS_DIR_ENV)
    if folder:  # the operator's: values of an earlier run would be summed into this one's
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="medspa-coverage-metrics-")  # 0700
        server.made_metrics_dir = os.environ[METRICS_DIR_ENV]


def child_exit(server, worker):
    """A worker is gone: its live gauges (the served model version) stop counting; its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def when_ready(server):
    """The master listens: start nginx in front of it (when `serve` asked for the proxy)."""
    if not PROXY_LISTEN:
        return
    from service.proxy import DEFAULT_RUN_DIR, RUN_DIR_ENV, ProxyError, start_nginx

    upstream = f"unix:{server.LISTENERS[0].sock.getsockname()}"
    run_dir = Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR)
    try:
        server.proxy = start_nginx(PROXY_LISTEN, upstream, run_dir, read_timeout=server.cfg.timeout + 5)
    except ProxyError as error:
        server.log.error("cannot start nginx: %s", error)
        raise SystemExit(1) from None  # before any worker exists: nothing half-started is left
    server.log.info("nginx listening at %s, in front of %s", PROXY_LISTEN, upstream)


def on_exit(server):
    """The master stops: the workers are gone, so nginx goes too, and the metrics folder made here."""
    proxy = getattr(server, "proxy", None)
    if proxy is not None:
        from service.proxy import stop_nginx

        stop_nginx(proxy)
    made = getattr(server, "made_metrics_dir", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


def post_fork(server, worker):
    for name in NATIVE_THREADS_ENV:
        os.environ[name] = "1"


def post_worker_init(worker):
    """After the worker built its app: cap native pools and drain on SIGTERM."""
    from threadpoolctl import threadpool_limits

    from service.health import start_draining

    worker.native_thread_limits = threadpool_limits(limits=1)  # kept: the limit lasts as long as the worker
    gc.freeze()  # see the module docstring: full collections stop walking the loaded model
    app = worker.wsgi
    previous = signal.getsignal(signal.SIGTERM)

    def drain_then_exit(signum, frame):
        start_draining(app)  # /healthz/ready answers 503 from now on
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, drain_then_exit)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_exit(server, worker):
    """Stop the worker's background jobs (model poller, scheduled monitor) before it exits."""
    from service.background import stop_jobs

    if getattr(worker, "wsgi", None) is not None:
        stop_jobs(worker.wsgi, timeout=5)


def worker_int(worker):
    from service.health import start_draining

    if getattr(worker, "wsgi", None) is not None:
        start_draining(worker.wsgi)
