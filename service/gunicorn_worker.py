"""gunicorn's sync worker, with the service's own answer to a request gunicorn cannot parse.

gunicorn answers a malformed request (a bad request line, method, version, header name or value,
a request line or headers over the config's limits) before the app sees it. Its own answer is an
HTML page, and a log warning, that both quote the offending text: the client's path or header,
which may carry patient data. This worker answers in the service's JSON error shape
(`service.errors.error_body`) with a message written here, and logs the exception's type only.
A worker the master stops for its timeout (SIGABRT, raised in the worker as SystemExit) tells the
client it held 503 `worker_timeout` and logs a timeout. Anything else gunicorn catches outside
the app (the app answers its own errors) is a 500 that says nothing about internals, logged by
type and stack without the exception's message.
"""
from __future__ import annotations

import json
import ssl
import traceback
from datetime import datetime

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

from service.errors import DEFAULTS, error_body

# gunicorn's parse errors -> (status, reason phrase, code, message); the status is gunicorn's own.
# {limits} in a message: the limits the running server was configured with (limits_text).
ANSWERS = (
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large", "headers_too_large",
     "too many or too large request headers: the service reads {limits}"),
    (http_errors.LimitRequestLine, 400, "Bad Request", "request_line_too_long",
     "the request line is too long: the service reads {limits}"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented", "unsupported_transfer_coding",
     "Transfer-Encoding may only be chunked"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed", "expectation_failed",
     "the only Expect header the service meets is 'Expect: 100-continue'"),
    ((http_errors.ForbiddenProxyRequest, ssl.SSLError), 403, "Forbidden", "forbidden", "request refused"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error", *DEFAULTS[500]),
    (http_errors.ParseException, 400, "Bad Request", "bad_http_request",
     "the request is not well-formed HTTP/1.1 (request line, method, version, header names and values)"),
    # gunicorn's SIGABRT handler (the master's timeout) raises SystemExit wherever the worker was:
    # reading a request that never ended, or answering one that ran too long.
    (SystemExit, 503, "Service Unavailable", "worker_timeout",
     "the request took longer than the service's time limit and was stopped; retry, or send it whole and promptly"),
)
INTERNAL_ERROR = (500, "Internal Server Error", *DEFAULTS[500])


def limits_text(cfg) -> str:
    """The request limits of a gunicorn config (service/gunicorn_conf.py, or the command line's)."""
    return (f"a request line of at most {cfg.limit_request_line:,} bytes and at most "
            f"{cfg.limit_request_fields:,} headers of {cfg.limit_request_field_size:,} bytes each")


def answer_for(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason phrase, code, message) for an exception gunicorn caught outside the app."""
    for kinds, *answer in ANSWERS:
        if isinstance(exc, kinds):
            return tuple(answer)
    return INTERNAL_ERROR


class QuietSyncWorker(SyncWorker):
    """gunicorn's `sync` worker; only its answer to errors outside the app differs (module docstring)."""

    def handle_error(self, req, client, addr, exc):
        started = datetime.now()
        status, reason, code, message = answer_for(exc)
        if "{limits}" in message:
            message = message.format(limits=limits_text(self.cfg))
        if isinstance(exc, SystemExit):
            self.log.warning("worker stopped mid-request by the master's %s s timeout; answered %d",
                             self.cfg.timeout, status)
        elif status == 500:
            stack = "".join(traceback.format_tb(exc.__traceback__))
            self.log.error("error outside the app: %s (message withheld)\n%s", type(exc).__name__, stack)
        else:
            self.log.warning("request gunicorn could not parse: %s, answered %d", type(exc).__name__, status)
        body = json.dumps(error_body(code, message)).encode()
        if isinstance(exc, (http_errors.InvalidHeader, http_errors.InvalidHeaderName)) and req is None:
            req = getattr(exc, "req", None)  # a header error carries the request it was reading
        if isinstance(req, Request):  # the access log, when an operator turned it on (its format holds no URL)
            self._log_access(req, client, status, reason, len(body), datetime.now() - started)
        head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        try:
            util.write_nonblock(client, head + body)
        except Exception:  # the client is gone: nothing to answer
            self.log.debug("could not send the error answer")

    def _log_access(self, req, client, status: int, reason: str, length: int, took) -> None:
        # An exception here would kill the worker and print a traceback quoting the request: never raise.
        try:
            environ = default_environ(req, client, self.cfg)
            response = Response(req, client, self.cfg)
            response.status, response.response_length = f"{status} {reason}", length
            self.log.access(response, req, environ, took)
        except Exception as error:
            self.log.warning("no access log line for the answer: %s", type(error).__name__)
