"""Request merging: concurrent compatible requests run as one pipeline call, each caller
getting exactly the images its request gives alone.

Concurrency is forced, never timed: the test holds the model (`manager.use`) while the
callers queue, waits until the merger says they are all queued, then lets go.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pipelines.catalog import Catalog
from pipelines.generate import run_generation
from pipelines.manager import PipelineManager
from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest
from tests.engine_entries import tiny_entry

pytest.importorskip("diffusers")

LONG_PROMPT = " ".join(["a cheerful young girl with curly brown hair in a sunny garden"] * 12)


@pytest.fixture(scope="module")
def manager(sd15, sdxl):  # noqa: F811
    entries = [
        tiny_entry("m-sd15", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=3),
        tiny_entry("m-sdxl", {"kind": "folder", "path": str(sdxl)}, family="sdxl", steps=2),
    ]
    return PipelineManager(Catalog(models=entries), device="cpu", merge_window_ms=5)


@pytest.fixture()
def calls(manager, monkeypatch):
    """Batch sizes of every real pipeline call (the pipeline still runs)."""
    sizes: list[int] = []
    for model_id in ("m-sd15", "m-sdxl"):
        with manager.use(model_id) as (pipe, _entry):
            cls = type(pipe)
        original = cls.__call__

        def counted(self, *args, _original=original, **kwargs):
            sizes.append(len(kwargs["generator"]))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", counted)
    return sizes


def _req(model_id: str = "m-sd15", prompt: str = "a red fox in the snow", seeds=(11,), **kw) -> GenerationRequest:
    kw.setdefault("width", 64)
    kw.setdefault("height", 64)
    return GenerationRequest(model_id=model_id, prompt=prompt, num_images=len(seeds), seeds=tuple(seeds), **kw)


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def _run_queued(manager, requests, progress=None, cancels=None):
    """Start one caller thread per request while the model is held, release it once all
    are queued; returns (results, errors) in request order."""
    n = len(requests)
    results, errors = [None] * n, [None] * n
    progress = progress or [None] * n
    cancels = cancels or [None] * n

    def call(i):
        try:
            results[i] = manager.generate(requests[i], progress=progress[i], cancel=cancels[i])
        except Exception as error:  # noqa: BLE001 - the test inspects it
            errors[i] = error

    model_ids = {r.model_id for r in requests}
    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    with manager.use(requests[0].model_id):  # the model is busy: every request queues
        for t in threads:
            t.start()
        _wait_until(lambda: sum(manager.merger.pending(m) for m in model_ids) == n, f"{n} requests queued")
    for t in threads:
        t.join(120)
    return results, errors


def _px(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _solo(manager, request):
    with manager.use(request.model_id) as (pipe, entry):
        return run_generation(pipe, entry, request)


def _assert_close(a, b) -> None:
    assert a.size == b.size
    assert np.abs(_px(a) - _px(b)).max() <= 2, "a merged image must equal the one its request gives alone"


@pytest.mark.parametrize("model_id", ["m-sd15", "m-sdxl"])
def test_three_queued_requests_run_as_one_call_with_their_own_images(manager, calls, model_id):
    requests = [
        _req(model_id, "a red fox in the snow", seeds=(11,)),
        _req(model_id, "a lighthouse at night, oil painting", seeds=(22, 23), negative_prompt="blurry"),
        _req(model_id, "a bowl of ramen", seeds=(33,)),
    ]
    solos = [_solo(manager, r) for r in requests]
    calls.clear()

    results, errors = _run_queued(manager, requests)

    assert errors == [None, None, None]
    assert calls == [4], "three requests (4 images) ran as one pipeline call"
    for request, result, solo in zip(requests, results, solos):
        assert result.seeds == list(request.seeds)
        assert len(result.images) == request.num_images
        assert (result.steps, result.sampler, result.model_id) == (solo.steps, solo.sampler, model_id)
        assert result.extra["merged_requests"] == 3 and result.elapsed_s > 0
        for merged, alone in zip(result.images, solo.images):
            _assert_close(merged, alone)
    # different prompts made different pictures
    assert np.abs(_px(results[0].images[0]) - _px(results[2].images[0])).mean() > 1


def test_incompatible_requests_run_in_separate_calls(manager, calls):
    requests = [
        _req(seeds=(1,)),
        _req(seeds=(2,), width=32, height=32),  # another size
        _req(seeds=(3,)),
        _req(prompt=LONG_PROMPT, seeds=(4,)),  # more than 77 tokens: another embedding length
        _req(seeds=(5,), steps=2),  # other steps
    ]
    results, errors = _run_queued(manager, requests)

    assert errors == [None] * 5
    assert sorted(calls) == [1, 1, 1, 2], "only the two 64² default requests shared a call"
    assert results[1].images[0].size == (32, 32) and results[4].steps == 2
    assert [r.seeds for r in results] == [[1], [2], [3], [4], [5]]


def test_a_cancelling_caller_leaves_at_once_and_the_others_get_their_images(manager, calls):
    requests = [_req(seeds=(1,)), _req(prompt="a castle", seeds=(2,)), _req(prompt="a boat", seeds=(3,))]
    solo_last = _solo(manager, requests[2])
    calls.clear()
    cancel = CancelToken()
    left = threading.Event()  # set once the cancelling caller has its GenerationCancelled
    left_while_running: list[bool] = []

    def cancelling_progress(event):
        if event.stage == "denoise" and event.current == 1:
            cancel.cancel()

    def patient_progress(event):  # holds the call at step 2 until the canceller has left
        if event.stage == "denoise" and event.current == 2 and not left_while_running:
            left_while_running.append(left.wait(60))

    done_steps: list[int] = []

    def observing_progress(event):
        if event.stage == "denoise":
            done_steps.append(event.current)

    original_generate = manager.generate

    def generate(request, progress=None, cancel=None):
        try:
            return original_generate(request, progress=progress, cancel=cancel)
        finally:
            if cancel is not None and cancel.cancelled:
                left.set()

    manager.generate = generate
    try:
        results, errors = _run_queued(
            manager, requests, progress=[cancelling_progress, patient_progress, observing_progress],
            cancels=[cancel, None, None],
        )
    finally:
        del manager.generate

    assert isinstance(errors[0], GenerationCancelled) and results[0] is None
    assert left_while_running == [True], "the cancelling caller returned while the merged call still ran"
    assert errors[1:] == [None, None] and calls == [3]
    assert done_steps == [1, 2, 3], "the call ran all its steps for the callers still there"
    _assert_close(results[2].images[0], solo_last.images[0])


def test_the_call_is_interrupted_only_when_every_caller_cancelled(manager, calls):
    cancels = [CancelToken(), CancelToken()]
    steps_seen: list[int] = []

    def cancel_all(event):
        if event.stage == "denoise":
            steps_seen.append(event.current)
            for c in cancels:
                c.cancel()

    unet_passes: list[int] = []
    with manager.use("m-sd15") as (pipe, _entry):
        hook = pipe.unet.register_forward_hook(lambda *_: unet_passes.append(1))
    try:
        _results, errors = _run_queued(manager, [_req(seeds=(1,)), _req(seeds=(2,))], progress=[cancel_all, None],
                                       cancels=cancels)
    finally:
        hook.remove()
    assert all(isinstance(e, GenerationCancelled) for e in errors)
    assert calls == [2] and steps_seen == [1]
    assert len(unet_passes) == 1, "nobody was left waiting, so the call stopped after step 1 of 3"


def test_an_error_in_the_merged_call_reaches_every_caller(manager, monkeypatch):
    with manager.use("m-sd15") as (pipe, _entry):
        cls = type(pipe)

    def broken(self, *args, **kwargs):
        raise RuntimeError("the GPU fell over")

    monkeypatch.setattr(cls, "__call__", broken)
    _results, errors = _run_queued(manager, [_req(seeds=(1,)), _req(seeds=(2,)), _req(seeds=(3,))])
    assert [str(e) for e in errors] == ["the GPU fell over"] * 3
    # the model is free again and works once the fault is gone
    monkeypatch.undo()
    assert manager.generate(_req(seeds=(9,))).seeds == [9]


def test_merging_is_off_by_default_and_each_request_is_its_own_call(sd15, monkeypatch):  # noqa: F811
    entry = tiny_entry("off-sd15", {"kind": "folder", "path": str(sd15)}, steps=2)
    manager = PipelineManager(Catalog(models=[entry]), device="cpu")
    assert manager.merger is None
    with pytest.raises(ValueError, match="merge_window_ms"):
        PipelineManager(Catalog(models=[entry]), merge_window_ms=-1)
    sizes: list[int] = []
    with manager.use("off-sd15") as (pipe, _entry):
        original = type(pipe).__call__

    def counted(self, *args, **kwargs):
        sizes.append(len(kwargs["generator"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", counted)
    queued = threading.Semaphore(0)
    errors: list = []

    def call(seed):
        try:
            manager.generate(_req("off-sd15", seeds=(seed,)),
                             progress=lambda e: queued.release() if e.stage == "queued" else None)
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=call, args=(s,)) for s in (1, 2)]
    with manager.use("off-sd15"):
        for t in threads:
            t.start()
        for _ in threads:
            assert queued.acquire(timeout=60), "both requests queued behind the busy model"
    for t in threads:
        t.join(120)
    assert errors == [] and sizes == [1, 1]


def test_after_an_ip_adapter_job_plain_merged_jobs_still_run_and_match_solo(sd15, tmp_path):
    """Issue 8 item 8: once a model carries an IP-Adapter its UNet needs image embeddings on
    every call; the merged path used to build its own call without them (TypeError in the UNet)."""
    from pipelines.testing.tiny_checkpoints import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT_NAME, build_tiny_ip_adapter

    _, adapter_dir = build_tiny_ip_adapter(sd15, tmp_path / "ip")
    adapter = {"path": str(adapter_dir), "subfolder": IP_ADAPTER_SUBFOLDER, "weight_name": IP_ADAPTER_WEIGHT_NAME,
               "image_encoder_folder": f"{IP_ADAPTER_SUBFOLDER}/image_encoder"}
    entry = tiny_entry("m-ip", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=2,
                       reference_modes=["ip_adapter", "img2img"], ip_adapter=adapter)
    merged = PipelineManager(Catalog(models=[entry]), device="cpu", merge_window_ms=5)
    plain_requests = [_req("m-ip", "a red fox in the snow", seeds=(11,)), _req("m-ip", "a bowl of ramen", seeds=(33, 34))]
    before = [_solo(merged, r) for r in plain_requests]  # no adapter loaded yet

    from PIL import Image

    ref = Image.new("RGB", (32, 32), "blue")
    with_refs = merged.generate(_req("m-ip", "a red fox", seeds=(5,), reference_images=(ref,), reference_mode="ip_adapter"))
    assert with_refs.extra["reference_mode"] == "ip_adapter"
    with merged.use("m-ip") as (pipe, _):
        from pipelines.references import has_ip_adapter

        assert has_ip_adapter(pipe), "the adapter stays loaded for the next jobs"

    results, errors = _run_queued(merged, plain_requests)

    assert errors == [None, None]
    assert all(r.extra["merged_requests"] == 2 for r in results)
    solos_after = [_solo(merged, r) for r in plain_requests]
    for result, solo, first in zip(results, solos_after, before):
        for image, alone, original in zip(result.images, solo.images, first.images):
            _assert_close(image, alone)  # merged equals solo on the adapter-bearing model
            _assert_close(image, original)  # and the adapter at scale 0 changes nothing
