"""Bearer tokens out of the logs. A browser cannot set headers on a WebSocket, so the web console sends its token
as ``?token=…``, and uvicorn logs every request's path with its query string: ``"WebSocket /v1/alerts?token=…"
[accepted]`` (``uvicorn.error``, at INFO) and the access log. The filter rewrites such a record's message and
arguments before any handler formats it."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

TOKEN_VALUE = re.compile(r"(token=)[^&\s\"'#]*", re.IGNORECASE)  # token=, access_token=, in a query or a scope
UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def redact(text: str) -> str:
    return TOKEN_VALUE.sub(r"\1[redacted]", text)


def _redacted(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float)):  # %d and %f arguments stay numbers
        return value
    text = value if isinstance(value, str) else str(value)  # a scope (uvicorn.asgi) carries query_string bytes
    return redact(text) if TOKEN_VALUE.search(text) else value


class RedactTokens(logging.Filter):
    """Replaces the value of every ``token=`` in a record's message and arguments with ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(_redacted(a) for a in record.args)
        return True


def redact_uvicorn_logs() -> None:
    """Put the filter on uvicorn's loggers (once): on the loggers, not their handlers, so that it stays whoever
    configures the handlers (``uvicorn.run``'s dictConfig, gunicorn's worker, a --log-config file)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
