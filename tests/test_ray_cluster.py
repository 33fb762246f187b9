"""The studio driving a real multi-node Ray Serve cluster (one head, two GPU-declaring
worker nodes on this machine), the app launched as `python app.py --engine ray` against it.

What a team on several GPU boxes relies on: jobs of several users and models go to the
replica that already holds their model; progress and cancel cross the cluster; a node that
dies mid-job costs nobody a credit or leaves a file behind, the next job runs, and a node
that joins takes work without a restart; a model that cannot load is refunded with its
reason while the replica keeps serving. One cluster and one app for the module (starting
them is most of the time); the node-killing test runs last.
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest
from PIL import Image

from pipelines.adapters import addnet_hash, file_hash
from pipelines.testing.tiny_lora import build_tiny_embedding, build_tiny_lora
from studio.store import open_store
from studio.store.records import ASSETS, JOBS, LEDGER
from tests.launched_app import REPO, free_port, launched_app
from tests.ray_cluster import (
    BIG_SIZES,
    data_dir_with_models,
    local_cluster,
    model_entry,
    replicas,
    running_replicas,
    tiny_folder,
    wait_for,
)

pytestmark = pytest.mark.ray
USERS = ("ana", "ben", "cy")


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(gpu_nodes=2) as c:
        yield c


@pytest.fixture(scope="module")
def app(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-app")
    folder = tiny_folder(root)
    broken = root / "broken-model"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}')
    data = data_dir_with_models(root, [
        model_entry("m1", folder), model_entry("m2", folder), model_entry("m3", folder),
        model_entry("slow", folder, steps=60, sizes=BIG_SIZES), model_entry("broken", broken),
    ])
    build_tiny_lora(folder, data / "loras" / "ink.safetensors", seed=1)
    build_tiny_embedding(folder, data / "embeddings" / "inkwash.safetensors", seed=5)
    auth = ",".join(f"{u}:pw-{u}" for u in USERS)
    # Three jobs may wait on one replica (default 1: a busy model spills over to a free replica),
    # more than the two the fair queue lets in, so a job for a busy model always queues on the
    # replica that holds it: routing stays exact, and a lost replica has a job that never started.
    with launched_app(data, "--engine", "ray", "--ray-address", cluster.address, "--ray-replicas", "2",
                      "--ray-cpu-threads", "1", "--ray-max-ongoing-requests", "3", "--auth", auth,
                      "--ray-models-dir", str(root / "replica-side"), "--starting-credits", "200", timeout=240) as url:
        yield url, data


def txt2img(url: str, user: str, model: str, **body) -> httpx.Response:
    side = 192 if model == "slow" else 64  # the tiny models' own size (A1111's default is 512²)
    return httpx.post(f"{url}sdapi/v1/txt2img", auth=(user, f"pw-{user}"), timeout=300,
                      json={"prompt": "a red boat", "override_settings": {"sd_model_checkpoint": model},
                            "width": side, "height": side, "steps": 60 if model == "slow" else 2, **body})


def progress(url: str, user: str) -> dict:
    return httpx.get(f"{url}sdapi/v1/progress", auth=(user, f"pw-{user}"), timeout=30).json()


def pixels_of(png_base64: str) -> bytes:
    """An answer's image pixels (its PNG text differs per job: ids, times)."""
    return Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("RGB").tobytes()


def app_log(url: str, data) -> str:
    """The launched app's own log (tests/launched_app.py writes it beside the data directory)."""
    return (data.parent / f"app-{url.rstrip('/').rsplit(':', 1)[1]}.log").read_text()


def assert_books_balance(data) -> None:
    """Every account's balance is its ledger's sum; each job charged once and refunded at most
    once (exactly once unless done); the images on disk are exactly the recorded ones."""
    store = open_store(data)
    ledger = store.all(LEDGER)
    for user in USERS:
        mine = sorted((e for e in ledger if e["owner"] == user), key=lambda e: e["created"])
        if mine:
            assert sum(e["delta"] for e in mine) == mine[-1]["balance_after"], user
    for job in store.all(JOBS):
        assert job["status"] in ("done", "failed", "cancelled"), job
        kinds = [e["kind"] for e in ledger if e.get("job_id") == job["id"]]
        assert kinds.count("charge") == 1 and kinds.count("refund") == (job["status"] != "done"), (job, kinds)
    referenced = {a["file"] for a in store.all(ASSETS)}
    on_disk = {p.relative_to(data / "images").as_posix() for p in (data / "images").rglob("*") if p.is_file()}
    assert on_disk == referenced, "no lost and no orphan image files"


def test_jobs_of_several_users_land_on_the_replicas_holding_their_models(app, cluster):
    url, data = app
    for model in ("m1", "m2", "m3"):  # first use: Serve places each on the replica with the fewest models
        assert txt2img(url, "ana", model).status_code == 200
    placed = {m["id"]: r["node_id"] for r in replicas(cluster) for m in r["models"]}
    assert set(placed) == {"m1", "m2", "m3"} and len(set(placed.values())) == 2, "models spread over both nodes"
    jobs = [(user, model) for _ in range(2) for user in USERS for model in ("m1", "m2", "m3")]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda job: txt2img(url, *job, seed=7), jobs))
    assert [a.status_code for a in answers] == [200] * len(jobs), [a.text[:200] for a in answers if a.status_code != 200]
    loads = [m for r in replicas(cluster) for m in r["loads"]]
    assert sorted(loads) == ["m1", "m2", "m3"], f"18 jobs later, still each model loaded once: {loads}"
    assert {m["id"]: r["node_id"] for r in replicas(cluster) for m in r["models"]} == placed
    assert_books_balance(data)


def test_progress_streams_from_the_replica_and_cancel_stops_it(app, cluster):
    url, data = app
    answer: dict = {}
    job = threading.Thread(target=lambda: answer.update(r=txt2img(url, "ben", "slow", steps=150, seed=1)))
    job.start()
    seen = wait_for(lambda: (p := progress(url, "ben"))["state"]["sampling_step"] >= 3 and p, 120, "denoise steps")
    assert seen["state"]["sampling_steps"] == 150 and seen["state"]["job"] == "denoise"
    later = wait_for(lambda: (p := progress(url, "ben"))["state"]["sampling_step"] > seen["state"]["sampling_step"] and p,
                     60, "more steps")
    assert 0 < later["progress"] < 1
    httpx.post(f"{url}sdapi/v1/interrupt", auth=("ben", "pw-ben"), timeout=30)
    cancelled_at = time.monotonic()
    job.join(120)
    assert answer["r"].status_code == 200 and '"interrupted": true' in answer["r"].json()["info"]
    # The replica stopped at its next step: the model is free long before 150 steps would end.
    wait_for(lambda: not any(m["in_use"] for r in replicas(cluster) for m in r["models"]), 30, "the replica to stop")
    assert time.monotonic() - cancelled_at < 0.5 * later["eta_relative"] + 5
    assert_books_balance(data)


def test_a_model_that_cannot_load_is_refunded_and_the_replica_keeps_serving(app):
    url, data = app
    failed = txt2img(url, "cy", "broken")
    assert failed.status_code == 500, failed.text  # as with the local engine: the job ran and failed
    detail = failed.json()["detail"]
    # The replica checks the files before loading (pipelines/model_files.py) and says what is wrong in words.
    assert detail.startswith("Broken cannot be loaded:") and "credit was returned" in detail, detail
    assert txt2img(url, "cy", "m1").status_code == 200, "the replica still serves its other models"
    assert_books_balance(data)


def test_loras_and_embeddings_travel_once_to_the_replica_that_runs_the_job(app, cluster):
    url, data = app
    plain = txt2img(url, "cy", "m1", seed=11, prompt="a red boat, inkwash")
    styled = txt2img(url, "cy", "m1", seed=11, prompt="a red boat <lora:ink:0.8>, inkwash")
    again = txt2img(url, "cy", "m1", seed=11, prompt="a red boat <lora:ink:0.8>, inkwash")
    assert [r.status_code for r in (plain, styled, again)] == [200] * 3, styled.text[:300]
    pixels = [pixels_of(r.json()["images"][0]) for r in (plain, styled, again)]
    assert pixels[1] != pixels[0], "the LoRA changed the picture on the replica"
    assert pixels[2] == pixels[1], "the same LoRA, seed and prompt: the same picture"
    lora_hash = addnet_hash(data / "loras" / "ink.safetensors")
    ti_hash = file_hash(data / "embeddings" / "inkwash.safetensors")
    text = json.loads(styled.json()["info"])["infotexts"][0]
    assert f'Lora hashes: "ink: {lora_hash}"' in text and f'TI hashes: "inkwash: {ti_hash}"' in text, text
    # Sent through the object store the first time the replica met them, not again on the next job.
    received = sorted(f for r in replicas(cluster) for f in r["adapter_files"])
    assert received == [f"embedding:inkwash:{ti_hash}", f"lora:ink:{lora_hash}"], received
    unknown = txt2img(url, "cy", "m1", prompt="a red boat <lora:inq:0.8>")
    assert unknown.status_code == 422 and "Did you mean: ink" in unknown.text, unknown.text[:300]
    assert_books_balance(data)


def test_one_job_waits_for_at_most_one_job_behind_another_users_forty(app):
    url, data = app
    done: list[tuple[str, float]] = []
    lock = threading.Lock()

    def run(user: str) -> int:
        status = txt2img(url, user, "m1", seed=3).status_code
        with lock:
            done.append((user, time.monotonic()))
        return status

    with concurrent.futures.ThreadPoolExecutor(41) as pool:
        many = [pool.submit(run, "ana") for _ in range(40)]
        # A job is recorded `running` when its credits are taken, before it waits its turn.
        wait_for(lambda: len(open_store(data).find(JOBS, owner="ana", status="running")) >= 30, 60, "ana's jobs to queue")
        one = pool.submit(run, "ben")
        assert one.result() == 200 and all(f.result() == 200 for f in many)
    ben_done = next(t for u, t in done if u == "ben")
    ana_before_ben = sum(1 for u, t in done if u == "ana" and t < ben_done)
    ana_behind = 40 - ana_before_ben
    # Two replicas run two jobs at once: ben's job starts when one of ana's running jobs ends.
    assert ana_behind >= 30, f"ben finished after {ana_before_ben} of ana's 40 jobs"
    assert_books_balance(data)


def test_a_node_dying_mid_job_costs_nothing_and_a_joining_node_takes_work(app, cluster):
    url, data = app
    results: dict = {}
    first = threading.Thread(target=lambda: results.update(ana=txt2img(url, "ana", "slow", steps=150, seed=2)))
    first.start()
    wait_for(lambda: progress(url, "ana")["state"]["sampling_step"] >= 2, 120, "ana's job to denoise")
    busy = wait_for(lambda: [r["node_id"] for r in replicas(cluster) if any(m["in_use"] for m in r["models"])],
                    30, "the busy replica")
    second = threading.Thread(target=lambda: results.update(ben=txt2img(url, "ben", "slow", steps=2, seed=2)))
    second.start()  # queued behind ana's on the replica holding "slow": nothing made yet, so it is re-run
    wait_for(lambda: progress(url, "ben")["state"]["job_count"] == 1, 30, "ben's job to be queued")
    time.sleep(1.0)
    node = next(n for n in cluster.worker_nodes if n.node_id == busy[0])
    cluster.remove_node(node, allow_graceful=False)
    first.join(180)
    second.join(180)
    assert results["ana"].status_code == 500, results["ana"].text  # it had made steps: failed, refunded once
    assert results["ana"].json()["detail"] == "The machine running this job went away before it finished. Your 1 credit was returned."
    assert results["ben"].status_code == 200, results["ben"].text[:500]
    assert "running it again elsewhere" in app_log(url, data), "ben's job, which had not started, ran on the other replica"
    assert txt2img(url, "cy", "m2", seed=5).status_code == 200, "the next job succeeds"
    assert_books_balance(data)
    cluster.add_node(num_cpus=1, num_gpus=1)
    wait_for(lambda: running_replicas() == 2, 120, "Serve to start the lost replica on the node that joined")
    # Serve reports the replica RUNNING before every handle's list of replicas includes it.
    after = wait_for(lambda: (nodes := [r["node_id"] for r in replicas(cluster)]) and len(set(nodes)) == 2 and nodes,
                     60, "the handle to reach both replicas")
    assert busy[0] not in after
    jobs = [("ana", m) for m in ("m1", "m2", "m3", "m1")]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda j: txt2img(url, *j), jobs))
    assert [a.status_code for a in answers] == [200] * 4, [a.text[:300] for a in answers]
    assert_books_balance(data)


def test_an_unreachable_cluster_stops_the_app_naming_its_address(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    run = subprocess.run([sys.executable, "app.py", "--engine", "ray", "--ray-address", address,
                          "--data-dir", str(tmp_path / "data")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr[-2000:]
    assert address in run.stderr and "Traceback" not in run.stderr


def test_a_cluster_without_gpus_stops_the_app_unless_cpu_placement_is_allowed(app, tmp_path):
    _, data = app  # the same tiny models; a second cluster of just a head, no GPU anywhere
    with local_cluster(gpu_nodes=0, disconnect=False) as bare:
        args = [sys.executable, "app.py", "--engine", "ray", "--ray-address", bare.address, "--ray-app-name", "no-gpu",
                "--data-dir", str(tmp_path / "refused")]
        run = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=180)
        assert run.returncode == 2, run.stderr[-2000:]
        assert f"The Ray cluster at {bare.address} has no GPU" in run.stderr and "--ray-allow-cpu" in run.stderr
        allowed = tmp_path / "allowed"
        allowed.mkdir()
        (allowed / "models.json").write_text((data / "models.json").read_text())
        with launched_app(allowed, "--engine", "ray", "--ray-address", bare.address, "--ray-allow-cpu",
                          "--ray-num-cpus", "0.5", "--ray-app-name", "no-gpu", "--auth", "ana:pw-ana", timeout=240) as url:
            answer = txt2img(url, "ana", "m1")
            assert answer.status_code == 200 and len(answer.json()["images"]) == 1


def test_the_rayservice_builder_reads_the_studio_settings(tmp_path, monkeypatch):
    """The KubeRay path (`import_path: pipelines.serve.app:build`) builds the same deployment."""
    from pipelines.serve.app import build

    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.setenv("STUDIO_RAY_CPU_THREADS", "1")
    app = build({"user_models_file": str(data_dir_with_models(tmp_path, [model_entry("extra", tmp_path)]) / "models.json")})
    catalog, options = app._bound_deployment.init_args
    assert "extra" in [m["id"] for m in catalog["models"]] and "demo-faces" in [m["id"] for m in catalog["models"]]
    assert options["device"] == "cpu" and options["cpu_threads"] == 1
