"""The service's operational log (service.logging): one JSON line per event with whitelisted fields
only; exceptions as type and stack, never their message; one line per request naming its route,
never its URL; configured once however many apps are built."""
from __future__ import annotations

import json
import logging
import sys

from service.logging import LOG_FIELDS, LOGGER_NAME, JsonFormatter


def formatted(message, *args, exc_info=None, **extra) -> dict:
    record = logging.getLogger("service.test").makeRecord("service.test", logging.WARNING, __file__, 1, message, args,
                                                          exc_info, extra=extra)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_line_holds_the_whitelisted_fields_and_drops_every_other():
    line = formatted("model loaded", model_version="3", status=200, claim={"patient_age": 44}, patient_age=44)
    assert set(line) == {"time", "level", "logger", "event", "model_version", "status"}
    assert (line["level"], line["logger"], line["event"]) == ("WARNING", "service.test", "model loaded")
    assert (line["model_version"], line["status"]) == ("3", 200)
    assert line["time"].endswith("Z") and line["time"][10] == "T"


def test_every_whitelisted_field_is_written():
    line = formatted("request", **{name: f"value-{name}" for name in LOG_FIELDS})
    assert {name: line[name] for name in LOG_FIELDS} == {name: f"value-{name}" for name in LOG_FIELDS}


def test_the_event_is_the_message_template_never_its_arguments():
    assert formatted("claim %s refused", "SECRET-7f3a")["event"] == "claim %s refused"
    assert formatted({"claim": "SECRET-7f3a"})["event"] == "dict"


def test_an_exception_is_written_as_its_type_and_stack_never_its_message():
    try:
        raise KeyError("SECRET-7f3a")
    except KeyError:
        line = formatted("unhandled exception", exc_info=sys.exc_info())
    assert line["error_type"] == "KeyError"
    assert line["stack"] and all(" in " in frame for frame in line["stack"])
    assert "SECRET" not in json.dumps(line)


def test_building_apps_again_leaves_one_json_handler(make_app):
    make_app()
    make_app()
    handlers = logging.getLogger(LOGGER_NAME).handlers
    assert [type(handler.formatter) for handler in handlers] == [JsonFormatter]


def test_a_request_line_names_the_route_status_and_request_id(client, log_lines):
    response = client.get("/healthz/live?patient=SECRET-7f3a")
    client.open("/healthz/live", method="BREW")
    client.get("/v1/SECRET-7f3a")
    lines = [json.loads(line) for line in log_lines() if '"event": "request"' in line]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/healthz/live", 200), ("(other)", "(unmatched)", 405), ("GET", "(unmatched)", 404)]
    assert lines[0]["request_id"] == response.headers["X-Request-ID"] and lines[0]["latency_ms"] >= 0
    assert (lines[1]["error_code"], lines[2]["error_code"]) == ("method_not_allowed", "not_found")
    assert not any("SECRET" in line for line in log_lines())
