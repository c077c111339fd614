"""The access log's line per /v1 request, in process: what it carries, what it costs when off, and
the JSON and writer-thread parts of the logging settings it goes through."""

import io
import json
import logging
import sys
import threading
import time
import timeit

import pytest
from django.conf import settings

from monitoring import access_log
from routerproject.logs import BackgroundStreamHandler
from routing.dataplane import ended
from routing.dataplane.exchange import Exchange


class Untouchable:
    """An exchange nothing may read."""

    def __getattr__(self, name):
        raise AssertionError(f"the access log read {name} while disabled")


class Kept(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def access():
    """The access logger at a level chosen by the test, its records kept (it does not propagate)."""
    logger = logging.getLogger("gateway.access")
    kept, level, handlers = Kept(), logger.level, logger.handlers
    logger.handlers = [kept]
    yield logger, kept.records
    logger.handlers = handlers
    logger.setLevel(level)


def exchange(**fields) -> Exchange:
    started = time.perf_counter()
    values = {
        "service_type": "chat",
        "model": "auto",
        "served_model": "gpt-small",
        "instance_id": "chat-a",
        "key_name": "ops team",
        "started": started,
        "upstream_wait": 0.040,
        "first_byte": started + 0.030,
        "decision": "lightweight",
        "prompt_tokens": 12,
        "completion_tokens": 30,
        **fields,
    }
    return Exchange("req-42", **values)


def test_it_is_registered_as_a_listener_of_ended_requests():
    assert settings.GATEWAY_ACCESS_LOG is True
    assert access_log.log_exchange in ended._listeners


def test_it_builds_nothing_when_the_logger_is_disabled(access):
    logger, records = access
    logger.setLevel(logging.WARNING)
    access_log.log_exchange(Untouchable(), 200, 1.0)  # type: ignore[arg-type]
    assert records == []
    per_call = min(
        timeit.repeat(
            lambda: access_log.log_exchange(Untouchable(), 200, 1.0),  # type: ignore[arg-type]
            number=10_000,
            repeat=3,
        )
    )
    assert per_call / 10_000 < 5e-6  # a few microseconds at most, on a busy machine


def test_one_record_carries_the_request_as_fields(access):
    logger, records = access
    logger.setLevel(logging.INFO)
    done = exchange()
    access_log.log_exchange(done, 200, done.started + 0.050)
    (record,) = records
    assert record.levelno == logging.INFO and record.name == "gateway.access"
    assert record.request_id == "req-42" and record.key_name == "ops team"
    assert (record.service_type, record.model, record.served_model) == ("chat", "auto", "gpt-small")
    assert (record.instance_id, record.decision, record.status) == ("chat-a", "lightweight", 200)
    assert record.latency_ms == pytest.approx(50.0, abs=0.01)
    assert record.overhead_ms == pytest.approx(10.0, abs=0.01)
    assert record.ttfb_ms == pytest.approx(30.0, abs=0.01)
    assert (record.prompt_tokens, record.completion_tokens, record.retries) == (12, 30, 0)
    assert record.fallback_model == "" and record.error == "" and record.cost is None


def test_a_secret_sent_as_the_model_name_is_masked_in_the_fields_and_the_line(access):
    logger, records = access
    logger.setLevel(logging.INFO)
    done = exchange(model="sk-live-abcdefghijklmnop1234")
    access_log.log_exchange(done, 404, done.started + 0.01)
    (record,) = records
    assert record.model == "sk-liv…1234"
    assert "abcdefghijklmnop" not in record.getMessage()


def test_the_text_line_names_each_value_and_quotes_what_has_spaces(access):
    logger, records = access
    logger.setLevel(logging.INFO)
    done = exchange(error="no_healthy_instance", retries=2, first_byte=None)
    access_log.log_exchange(done, 503, done.started + 0.050)
    line = records[0].getMessage()
    assert line.startswith("POST /v1 chat model=auto served_model=gpt-small instance_id=chat-a ")
    assert " status=503 latency_ms=50.0" in line and " retries=2 " in line
    assert " error=no_healthy_instance " in line and "ttfb_ms" not in line
    assert ' key="ops team" ' in line and line.endswith(" request_id=req-42")
    assert "fallback_model" not in line and " usage=12/30 " in line


def test_a_refused_request_is_logged_with_what_is_known(access):
    logger, records = access
    logger.setLevel(logging.INFO)
    refused = Exchange("req-7", service_type="chat", error="invalid_api_key")
    access_log.log_exchange(refused, 401, refused.started)
    line = records[0].getMessage()
    assert "model=- served_model=- instance_id=- status=401" in line
    assert "key=- request_id=req-7" in line


def test_json_lines_hold_time_level_logger_message_and_the_extra_fields():
    record = _record("POST /v1 chat")
    record.request_id, record.status = "req-1", 200
    made = _json_formatter().format(record)
    line = json.loads(made)
    assert "\n" not in made
    assert line["level"] == "INFO" and line["logger"] == "gateway.access"
    assert line["message"] == "POST /v1 chat" and line["time"].endswith("+00:00")
    assert line["request_id"] == "req-1" and line["status"] == 200


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("gateway.access", logging.INFO, __file__, 1, message, None, None)


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    options = {key: value for key, value in settings.JSON_FORMATTER.items() if key != "()"}
    assert settings.JSON_FORMATTER["()"] == "pythonjsonlogger.json.JsonFormatter"
    return JsonFormatter(**options)


def test_the_background_handler_writes_formatted_records_from_another_thread(monkeypatch):
    written = io.StringIO()
    writers = []
    original_write = written.write

    def spy(text):
        writers.append(threading.current_thread().name)
        return original_write(text)

    written.write = spy
    monkeypatch.setattr(sys, "stderr", written)
    handler = BackgroundStreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    for number in range(3):
        handler.handle(_record(f"line {number}"))
    assert written.getvalue() == ""  # kept: nothing is written on the caller's thread
    handler.write_waiting()  # what the writer thread does every tenth of a second
    assert written.getvalue().splitlines() == [f"INFO gateway.access line {n}" for n in range(3)]
    assert len(writers) == 1  # the three lines in one write
    handler.handle(_record("last"))
    handler.close()  # writes what waits before returning
    assert written.getvalue().splitlines()[-1] == "INFO gateway.access last"


def test_the_background_handler_drops_and_counts_what_stderr_does_not_take(monkeypatch):
    from routerproject import logs

    written = io.StringIO()
    monkeypatch.setattr(sys, "stderr", written)
    monkeypatch.setattr(logs, "MAX_WAITING", 2)
    handler = BackgroundStreamHandler()
    for number in range(5):
        handler.handle(_record(f"line {number}"))
    handler.close()
    assert written.getvalue().splitlines()[-1].startswith("3 log lines dropped")
