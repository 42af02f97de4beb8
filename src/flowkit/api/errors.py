"""The API's one error shape: a JSON body with `msg` (and optionally `status`, `payload`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class APIError(Exception):
    """Raised anywhere in a request; turned into `{"msg": ..., **extra}` with `status_code`."""

    def __init__(self, status_code: int, msg: str, **extra):
        super().__init__(msg)
        self.status_code = status_code
        self.body = {"msg": msg, **extra}


async def api_error_response(request: Request, error: APIError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status_code)
