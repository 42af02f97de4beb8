"""One JSON line per request: who, which route, which query, what spec, outcome, how long."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("flowkit.access")


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stdout, ISO UTC timestamps: what FlowKit's log shippers expect."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(),  # whatever sys.stdout is at the time
        cache_logger_on_first_use=False,
    )


class AccessLog:
    """ASGI middleware; handlers add `user`, `query_id`, `spec` to `request.state`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            state = scope.get("state", {})
            log.info(
                "request",
                method=scope["method"],
                route=scope["path"],
                user=state.get("user"),
                granting_role=state.get("granting_role"),
                query_id=state.get("query_id"),
                spec=state.get("spec"),
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
