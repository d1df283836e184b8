"""How `lykta serve` logs: plain lines, or one JSON object per line for log collectors.

Granian applies this logging configuration in the server and in every worker, so the
formatter is named by its import path.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
# What granian's access log passes as the record's arguments (see granian.log).
ACCESS_FIELDS = ("addr", "method", "path", "query_string", "protocol", "status", "dt_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, and for the access
    log the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "granian.access" and isinstance(record.args, dict):
            entry["message"] = "request"
            entry.update({name: record.args.get(name) for name in ACCESS_FIELDS})
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for granian's loggers and Lykta's own."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"()": "logging.Formatter", "fmt": "[%(levelname)s] %(name)s: %(message)s"}
    )
    access: dict[str, Any] = (
        formatter if log_format == "json" else {"()": "logging.Formatter", "fmt": "%(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"generic": formatter, "access": access},
        "handlers": {
            "console": {
                "formatter": "generic",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "lykta": {"handlers": ["console"], "level": level.upper(), "propagate": False},
        },
    }
