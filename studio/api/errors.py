"""Service errors as HTTP statuses, rendered in each dialect's own error shape.

The messages are the ones the UI shows (they say what to fix); no server path or
exception class name ever reaches the client.
"""

from __future__ import annotations

import logging
import uuid

from fastapi.responses import JSONResponse

from pipelines.types import GenerationCancelled, ModelUnavailable, OutOfMemory, RequestRejected
from studio.api.common import ApiError
from studio.services.billing.ledger import InsufficientCredits
from studio.services.generation.service import GenerationFailed
from studio.services.generation.requests import InvalidRequest

log = logging.getLogger(__name__)

_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                 413: "invalid_request_error", 429: "insufficient_quota"}


def service_error(exc: BaseException, *, invalid_status: int = 422) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InsufficientCredits):
        return ApiError(402, f"{exc} Ask for more credits, or use fewer images or a cheaper model.", code="insufficient_quota")
    if isinstance(exc, (InvalidRequest, RequestRejected)):
        return ApiError(invalid_status, str(exc))
    if isinstance(exc, ModelUnavailable):
        return ApiError(503, str(exc), code="model_unavailable")
    if isinstance(exc, OutOfMemory):
        return ApiError(503, str(exc), code="out_of_memory")
    if isinstance(exc, GenerationCancelled):
        return ApiError(409, "The job was interrupted; its credits were refunded.", code="interrupted")
    if isinstance(exc, GenerationFailed):  # the service words it for the person, as the UI shows it
        return ApiError(500, str(exc) or "Generation failed on the server; your credits were refunded.", code="generation_failed")
    ref = uuid.uuid4().hex[:8]
    log.error("REST API request failed (ref %s)", ref, exc_info=exc)
    return ApiError(500, f"Something went wrong on the server (ref {ref}); nothing was charged.", code="server_error")


def a1111_error(err: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="studio"'} if err.status == 401 else None
    return JSONResponse({"error": err.code, "detail": err.message, "body": "", "errors": err.message},
                        status_code=err.status, headers=headers)


def openai_error(err: ApiError) -> JSONResponse:
    status = 429 if err.status == 402 else err.status
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    # The openai SDK retries 429s; running out of credits does not pass by waiting.
    headers = {"x-should-retry": "false"} if status == 429 else None
    return JSONResponse({"error": {"message": err.message, "type": kind, "param": err.param, "code": err.code}},
                        status_code=status, headers=headers)
