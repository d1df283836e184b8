"""`lykta serve`'s logs as JSON lines: Lykta's own records and granian's access log."""

from __future__ import annotations

import json
import logging
import logging.config

from lykta.cli.logs import JsonFormatter, logging_config


def test_json_lines_carry_the_access_fields() -> None:
    formatter = JsonFormatter()
    access = logging.LogRecord("granian.access", logging.INFO, "", 0, "%(path)s", (), None)
    access.args = {"addr": "10.0.0.1", "method": "GET", "path": "/health", "status": 200,
                   "dt_ms": 1.5, "query_string": "", "protocol": "HTTP/1.1"}  # fmt: skip
    entry = json.loads(formatter.format(access))
    assert entry["message"] == "request" and entry["path"] == "/health"
    assert entry["status"] == 200 and entry["time"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = logging.LogRecord("lykta.x", logging.ERROR, "", 0, "a %s", ("b",), sys.exc_info())
    entry = json.loads(formatter.format(failed))
    assert entry["message"] == "a b" and entry["level"] == "error"
    assert "ValueError: boom" in entry["exception"]


def test_the_config_is_one_dictconfig_accepts() -> None:
    names = ("lykta", "_granian", "granian.access")
    saved = {
        n: (lg.handlers[:], lg.level, lg.propagate) for n in names if (lg := logging.getLogger(n))
    }
    try:
        for log_format in ("text", "json"):
            logging.config.dictConfig(logging_config(log_format, "warning"))
            lykta = logging.getLogger("lykta")
            assert lykta.level == logging.WARNING
            assert isinstance(lykta.handlers[0].formatter, JsonFormatter) is (log_format == "json")
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
