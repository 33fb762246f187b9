"""What crosses the network between the studio host and a replica, as plain data.

Why plain dicts of bytes and numbers instead of the dataclasses themselves: a replica may
run another minor version of the studio's code, PIL images pickle as raw pixels (a 4-image
1024² job would be 12 MB instead of a few hundred KB of PNG), and an exception pickled
across processes arrives wrapped in Ray's own error types with a traceback in its text.
So requests carry reference images as PNG, results carry PNG bytes (lossless: the host
writes exactly the pixels the replica made), and errors carry a type name and the
user-facing message, turned back into the engine's own exception types on the host.
"""

from __future__ import annotations

import io
from dataclasses import asdict, fields

from PIL import Image

from pipelines.types import (
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    ModelUnavailable,
    OutOfMemory,
    Progress,
    RequestRejected,
    UnknownModel,
)

_REQUEST_FIELDS = {f.name for f in fields(GenerationRequest)}


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)  # fast: the host re-encodes with its metadata anyway
    return buf.getvalue()


def png_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def encode_request(request: GenerationRequest) -> dict:
    data = {f: getattr(request, f) for f in _REQUEST_FIELDS if f != "reference_images"}
    data["reference_images"] = [png_bytes(im) for im in request.reference_images]
    return data


def decode_request(data: dict) -> GenerationRequest:
    known = {k: v for k, v in data.items() if k in _REQUEST_FIELDS}
    known["reference_images"] = tuple(png_image(b) for b in data.get("reference_images", ()))
    if known.get("seeds") is not None:
        known["seeds"] = tuple(known["seeds"])
    return GenerationRequest(**known)


def encode_result(result: GenerationResult) -> dict:
    data = {f.name: getattr(result, f.name) for f in fields(GenerationResult) if f.name != "images"}
    data["images"] = [png_bytes(im) for im in result.images]
    return data


def decode_result(data: dict) -> GenerationResult:
    return GenerationResult(**{**data, "images": [png_image(b) for b in data["images"]]})


def encode_progress(event: Progress) -> dict:
    return asdict(event)


def decode_progress(data: dict) -> Progress:
    return Progress(**data)


# Engine errors the services tell apart (refund wording, HTTP status): sent by name.
_ERRORS: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (GenerationCancelled, ModelUnavailable, OutOfMemory, RequestRejected, UnknownModel, ValueError)
}


class ReplicaError(RuntimeError):
    """An unexpected error inside a replica; its text is in the replica's log and here."""


def encode_error(exc: BaseException) -> dict:
    """The nearest type the host knows (ModelTooLarge travels as ModelUnavailable) and the message."""
    from pipelines.placement import ModelTooLarge  # noqa: F401 (a ModelUnavailable: matched below)

    for cls in type(exc).__mro__:
        if cls.__name__ in _ERRORS and issubclass(cls, _ERRORS[cls.__name__]):
            name = cls.__name__
            break
    else:
        name = "ReplicaError"
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return {"type": name, "message": str(message)}


def decode_error(data: dict) -> BaseException:
    cls = _ERRORS.get(data.get("type", ""), ReplicaError)
    return cls(data.get("message", "the replica failed"))
