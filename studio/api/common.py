"""What both REST dialects share: the caller's running jobs, request bodies, sizes, images.

A dialect only translates. The job itself is `GenerationService.generate` with a
`StudioRequest`, exactly what the UI runs: same checks, same credit charge and
refund, same records, PNG metadata, history and engine queue. What a dialect can honour
(steps, guidance, a starting image) are typed fields of that request, checked by the
service before any credit is taken.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from pipelines.catalog import ASPECTS, ModelEntry
from pipelines.types import Progress
from studio.services.access.api_keys import ApiKeyService
from studio.services.generation.service import StudioResult
from studio.services.generation.requests import InvalidRequest, StudioRequest
from studio.services.studio import Studio
from studio.services.common import validation as v
from studio.services.common.uploads import MAX_UPLOAD_BYTES, mib_exact, validate_upload
from studio.services.common.validation import mib

MAX_INIT_IMAGE_BYTES = MAX_UPLOAD_BYTES  # an img2img image: the same 20 MiB as an upload in the UI
MAX_BODY_BYTES = 48 * 1024 * 1024  # a 20 MiB image as base64 (26.7 MiB), plus the rest of the request
URL_LIFETIME_S = 3600
# OpenAI model names clients send by default -> catalog id (None: the studio's default model)
DEFAULT_OPENAI_ALIASES: dict[str, str | None] = {"dall-e-2": None, "dall-e-3": None, "gpt-image-1": None}


class ApiError(Exception):
    """A refusal with an HTTP status; each dialect renders it in its own error shape."""

    def __init__(self, status: int, message: str, *, code: str = "invalid_request", param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


async def read_json_object(request) -> dict:
    """The request's JSON object body, refusing an oversized one before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(size, known=False)
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks))


def _too_large(size: int, *, known: bool = True) -> ApiError:
    """`size`: the declared length (known), or what was read when the stream passed the limit.
    Said in MiB, the unit the limit is set in (and the README states)."""
    text = (f"The request is {mib_exact(size)}; the limit is {mib(MAX_BODY_BYTES)}." if known
            else f"The request is larger than the limit of {mib(MAX_BODY_BYTES)}.")
    return ApiError(413, text, code="request_too_large")


def parse_json_object(raw: bytes) -> dict:
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large(len(raw))
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def decode_image(data: object, what: str):
    """A base64 (or data: URL) image as an RGB picture; refused like an upload otherwise."""
    if not isinstance(data, str) or not data.strip():
        raise InvalidRequest(f"{what} must be a base64-encoded PNG, JPEG or WebP image.")
    text = data.strip()
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > MAX_INIT_IMAGE_BYTES * 4 // 3 + 4:
        raise InvalidRequest(f"{what} is larger than {mib(MAX_INIT_IMAGE_BYTES)}.")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{what} is not valid base64.") from None
    try:
        return validate_upload(raw, max_bytes=MAX_INIT_IMAGE_BYTES)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{what}: {exc}") from None


def check_side(value: int, what: str) -> int:
    """A requested width or height, by the table's size row (`what` is "width" or "height")."""
    return v.parameter(what, value)


def closest_aspect(entry: ModelEntry, width: int, height: int) -> str:
    """The catalog aspect whose native size has the ratio nearest to width:height."""
    want = math.log(width / height)
    return min(ASPECTS, key=lambda a: abs(math.log(entry.sizes[a].width / entry.sizes[a].height) - want))


def find_model(studio: Studio, name: object) -> ModelEntry | None:
    """A catalog entry by id, A1111 title ('id [hash]') or display name, any case."""
    if not isinstance(name, str):
        return None
    text = name.strip()
    if text.endswith("]") and " [" in text:
        text = text.rsplit(" [", 1)[0]
    text = text.lower()
    for entry in studio.catalog.models:
        if text in (entry.id, entry.name.lower()):
            return entry
    return None


def find_style(studio: Studio, name: object) -> str | None:
    text = str(name).strip().lower()
    for style in studio.styles:
        if text in (style.id, style.name.lower()):
            return style.id
    return None


def png_bytes(result: StudioResult) -> list[bytes]:
    with_files = []
    for image in result.images:
        with open(image.path, "rb") as fh:
            with_files.append(fh.read())
    return with_files


def openai_images_body(result: StudioResult, pngs: list[bytes] | None, base_url: str, links, notes: list[str]) -> dict:
    """OpenAI's images answer (generations and edits alike): base64 PNGs when `pngs` are
    given, else signed links under `base_url` (the public address), with the studio's notes
    and what the job cost."""
    if pngs is not None:
        data = [{"b64_json": base64.b64encode(png).decode("ascii"), "revised_prompt": result.prompt} for png in pngs]
    else:
        data = [{"url": f"{base_url}/v1/images/files/{img.asset_id}.png?{links.query(img.asset_id)}",
                 "revised_prompt": result.prompt} for img in result.images]
    first = result.images[0].details
    return {"created": int(time.time()), "data": data, "output_format": "png",
            "size": f"{first['width']}x{first['height']}",
            "usage": {"credits_charged": result.cost, "balance": result.balance}, "studio_notes": notes}


def public_base_url(request, path: str) -> str:
    """The public address as Gradio computes it for its own file links (X-Forwarded-Host
    behind a Space's proxy or another reverse proxy), not the address uvicorn sees."""
    from gradio.route_utils import get_root_url

    return get_root_url(request, path, request.scope.get("root_path") or None)


@dataclass
class RunningJob:
    user: str
    key: str
    started: float = field(default_factory=time.time)
    step: int = 0
    steps: int = 0
    stage: str = "queued"
    count: int = 1
    run_id: str | None = None


@dataclass
class RestRun:
    """One REST request's successive batches (A1111's n_iter): `/interrupt` stops the
    running batch and the ones after it, `/skip` only the running one."""

    user: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    interrupted: bool = False
    batch: int = 0
    batches: int = 1


class JobTracker:
    """The REST jobs running now, per account, for A1111's /progress, /interrupt and /skip.

    Cancelling goes through the studio's CancelRegistry, keyed `user:session` like the
    UI, with one session per REST batch: an interrupt stops only the caller's jobs."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self._lock = threading.Lock()
        self._jobs: dict[str, RunningJob] = {}
        self._runs: dict[str, RestRun] = {}
        # As many REST jobs in the engine at once as the UI lets in through its GPU queue.
        self._gpu = threading.BoundedSemaphore(max(1, studio.gpu_concurrency))

    @contextmanager
    def batches(self, user: str, count: int = 1):
        """Register a request's run of `count` batches while they run."""
        run = RestRun(user=user, batches=count)
        with self._lock:
            self._runs[run.id] = run
        try:
            yield run
        finally:
            with self._lock:
                self._runs.pop(run.id, None)

    def run(self, request: StudioRequest, *, run: RestRun | None = None, refine: bool = False) -> StudioResult:
        """One job with progress and interrupt; `refine`: a repaint / extend / enlarge / hires
        request (studio.services.generation.refine) instead of a plain generation."""
        job = RunningJob(user=request.user, key=f"{request.user}:api-{uuid.uuid4().hex}", count=request.count,
                         run_id=run.id if run else None)

        def progress(event: Progress) -> None:
            job.stage = event.stage
            if event.stage == "denoise":
                job.step, job.steps = event.current, event.total

        with self._lock:
            self._jobs[job.key] = job
        try:
            with self.studio.cancels.running(job.key) as token, self._gpu:
                if run is not None and run.interrupted:
                    token.cancel()
                if refine:
                    return self.studio.refine.run(request, progress=progress, cancel=token)
                return self.studio.generation.generate(
                    request,
                    progress=progress,
                    cancel=token,
                )
        finally:
            with self._lock:
                self._jobs.pop(job.key, None)

    def of(self, user: str) -> list[RunningJob]:
        with self._lock:
            return [j for j in self._jobs.values() if j.user == user]

    def runs_of(self, user: str) -> list[RestRun]:
        with self._lock:
            return [r for r in self._runs.values() if r.user == user]

    def interrupt(self, user: str) -> int:
        for run in self.runs_of(user):
            run.interrupted = True
        return self.skip(user)

    def skip(self, user: str) -> int:
        return sum(self.studio.cancels.cancel(j.key) for j in self.of(user))


class ImageLinks:
    """Signed, expiring links to generated images, for OpenAI's response_format=url.

    The link itself is the credential (like OpenAI's own result URLs), so image
    viewers and downloaders that send no Authorization header can fetch it; it names
    the asset, never a server path, and stops working after an hour or a restart."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def _sign(self, asset_id: str, expires: int) -> str:
        return hmac.new(self._secret, f"{asset_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def query(self, asset_id: str) -> str:
        expires = int(time.time()) + URL_LIFETIME_S
        return f"expires={expires}&sig={self._sign(asset_id, expires)}"

    def valid(self, asset_id: str, expires: object, sig: object) -> bool:
        try:
            when = int(str(expires))
        except ValueError:
            return False
        return when >= time.time() and isinstance(sig, str) and hmac.compare_digest(self._sign(asset_id, when), sig)


@dataclass
class ApiContext:
    """Everything the routers need, built once by `mount_rest_apis`."""

    studio: Studio
    keys: ApiKeyService
    password_check: Callable[[str, str], bool] | None
    jobs: JobTracker
    links: ImageLinks
    openai_aliases: dict[str, str | None] = field(default_factory=lambda: dict(DEFAULT_OPENAI_ALIASES))
