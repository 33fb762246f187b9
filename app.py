"""Composition root: settings → store → engine (local or Ray) in a fair queue → services → Gradio app.

`python app.py --help` lists the flags; each has a STUDIO_ env var twin.
Importing this module builds nothing: tests and Spaces call `build_studio` and
`create_app` themselves, and the server starts only under __main__.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import asynccontextmanager

from studio.settings import Settings

log = logging.getLogger("studio")


def build_studio(settings: Settings):
    """Everything the app needs, wired once. Loads no model (that happens on first use)."""
    from pipelines.catalog import load_catalog
    from studio.services.gen_space.assets import AssetService
    from studio.services.generation.cancel import CancelRegistry
    from studio.services.gen_space.shot_generation import GenSpaceService
    from studio.services.gen_space.projects import ProjectService
    from studio.services.gen_space.shots import ShotService
    from studio.services.gen_space.storyboard import StoryboardService
    from studio.services.billing.admin import AdminService
    from studio.services.billing.ledger import CreditsService
    from studio.services.generation.service import GenerationService
    from studio.services.prompts.enhancers import PromptEnhancers
    from studio.services.prompts.library import PromptLibrary
    from studio.services.generation.recovery import recover
    from studio.services.studio import Studio
    from studio.services.prompts.styles import load_styles
    from studio.store import ImageFiles, open_store

    _quiet_library_progress_bars()
    catalog = load_catalog(settings.models_file)
    user_models = settings.resolved_user_models_file()
    if user_models is not None:
        added = load_catalog(user_models)
        catalog = catalog.with_models(added.models).with_enhancers(added.prompt_enhancers, added.default_enhancer)
    styles = load_styles(settings.styles_file)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.data_dir)
    images = ImageFiles(settings.data_dir / "images")
    adapters = _adapter_library(settings)
    engine = build_engine(settings, catalog, adapters)
    credits = CreditsService(store, settings.starting_credits)
    recover(store, credits, images)  # jobs a killed process left running: failed, refunded once, files swept
    admin = AdminService(store, credits, admins=settings.admin_names(), default_daily_limit=settings.daily_limit)
    enhancers = PromptEnhancers(catalog, cache_dir=settings.hf_cache_dir)
    generation = GenerationService(engine=engine, styles=styles, credits=credits, store=store, images=images,
                                   enhancers=enhancers)
    projects, shots, assets = ProjectService(store, images), ShotService(store), AssetService(store, images)
    return Studio(
        engine=engine,
        styles=styles,
        store=store,
        images=images,
        credits=credits,
        prompts=PromptLibrary(store),
        generation=generation,
        cancels=CancelRegistry(),
        projects=projects,
        shots=shots,
        assets=assets,
        storyboard=StoryboardService(store, images),
        gen_space=GenSpaceService(generation=generation, projects=projects, shots=shots, assets=assets),
        exports_dir=settings.data_dir / "exports",
        style_preview_dir=settings.styles_file.parent / "previews",
        default_model_id=settings.default_model,
        # Every job goes into the engine's fair queue, which decides the order (users take turns);
        # the Gradio queue and the REST dialects only cap how many wait there.
        gpu_concurrency=settings.max_queued_jobs,
        admin=admin,
        refine=_refine_service(generation, settings),
    )


def build_engine(settings: Settings, catalog, adapters=None):
    """The engine the services talk to: this process's PipelineManager, or a Ray Serve
    deployment of it (no Ray import unless --engine ray), behind the per-user fair queue.
    Raises pipelines.serve.client.ClusterUnavailable when the cluster cannot be used."""
    from pipelines.fair import FairDispatcher

    if settings.engine == "ray":
        from pipelines.serve.client import connect
        from pipelines.serve.settings import ServeOptions

        options = ServeOptions(
            address=settings.ray_address, replicas=settings.ray_replicas, min_replicas=settings.ray_min_replicas,
            max_replicas=settings.ray_max_replicas, num_gpus=settings.ray_num_gpus, num_cpus=settings.ray_num_cpus,
            cpu_threads=settings.ray_cpu_threads, allow_cpu=settings.ray_allow_cpu,
            max_ongoing_requests=settings.ray_max_ongoing_requests,
            target_ongoing_requests=settings.ray_target_ongoing_requests,
            models_per_replica=settings.ray_models_per_replica, device=settings.device,
            vram_budget_gb=settings.vram_budget_gb, ram_budget_gb=settings.ram_budget_gb,
            merge_window_ms=settings.merge_window_ms, models_dir=settings.ray_models_dir,
            hf_cache_dir=None if settings.hf_cache_dir is None else str(settings.hf_cache_dir),
            env={k: v for k, v in os.environ.items() if k in _REPLICA_ENV}, app_name=settings.ray_app_name,
            deploy=settings.ray_deploy,
        )
        return FairDispatcher(connect(options, catalog, adapters=adapters), slots=options.capacity(),
                              per_user=settings.max_running_per_user)
    from pipelines.manager import PipelineManager

    engine = PipelineManager(
        catalog,
        device=settings.device,
        vram_budget_gb=settings.vram_budget_gb,
        ram_budget_gb=settings.ram_budget_gb,
        ram_limit_bytes=None if settings.ram_limit_gb is None else int(settings.ram_limit_gb * 2**30),
        cache_dir=settings.hf_cache_dir,
        models_dir=settings.data_dir / "models",
        merge_window_ms=settings.merge_window_ms,
        adapters=adapters,
    )
    _use_zero_gpu_if_on_a_space(engine)
    # Merging needs several requests in the engine together; otherwise one job at a time on the GPU.
    return FairDispatcher(engine, slots=8 if settings.merge_window_ms else 1, per_user=settings.max_running_per_user)


# What the host passes on to the replicas' environment (offline mode, hub credentials).
_REPLICA_ENV = ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT", "TRANSFORMERS_OFFLINE")


def _adapter_library(settings: Settings):
    """The LoRA and embedding folders (made if missing, so people see where files go)."""
    from pipelines.adapters import AdapterLibrary

    loras = settings.loras_dir or settings.data_dir / "loras"
    embeddings = settings.embeddings_dir or settings.data_dir / "embeddings"
    for folder in (loras, embeddings):
        folder.mkdir(parents=True, exist_ok=True)
    hub = []
    if settings.lora_catalog_file is not None:
        import json

        from pipelines.adapters import HubLora

        hub = [HubLora(**row) for row in json.loads(settings.lora_catalog_file.read_text(encoding="utf-8"))]
    library = AdapterLibrary(loras, embeddings, hub_loras=hub, cache_dir=settings.hf_cache_dir)
    for problem in library.problems():
        log.warning("%s", problem)
    return library

def _refine_service(generation, settings: Settings):
    """Repaint / extend / enlarge; upscaler files in <data-dir>/upscalers are read (bad ones named) now."""
    from pipelines.upscalers import Upscalers
    from studio.services.generation.refine import RefineService

    return RefineService(generation, Upscalers(settings.data_dir / "upscalers", cache_dir=settings.hf_cache_dir))


def _quiet_library_progress_bars() -> None:
    """diffusers' own tqdm bars would spam the server log; the UI shows progress instead."""
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()


def _use_zero_gpu_if_on_a_space(engine) -> None:
    """On a Hugging Face ZeroGPU Space the GPU is lent per call through spaces.GPU."""
    try:
        import spaces  # only installed on Spaces
    except ImportError:
        return
    engine.generate = spaces.GPU(duration=120)(engine.generate)


def serve(settings: Settings, *, block: bool = True):
    """Build and launch; returns (app, local_url) when block is False (tests)."""
    from studio.accounts import LoginLimiter, check_exposure, password_check, use_accounts
    from studio.services.studio import LOCAL_USER
    from studio.api import rest_apis_lifespan
    from studio.ui.app import create_app, launch_options
    from studio.web import server_guards

    accounts = settings.load_accounts()
    check_exposure(accounts, share=settings.share, public=settings.public, admins=settings.admin_names())
    use_accounts(accounts)
    studio = build_studio(settings)
    studio.admin.known_users = accounts.users if accounts is not None else None
    if accounts is None and not settings.public:
        studio.admin.make_local_admin(LOCAL_USER)  # their own studio: a way to more credits (issue 20)
    if settings.preload:
        studio.engine.preload(studio.choose_default_model())
    app = create_app(studio, browser_secret=settings.install_secret("browser-state"))
    app.queue(default_concurrency_limit=4)
    # The file guard (each user's files are theirs), the rate-limited sign-in, and the A1111 and
    # OpenAI routes (in place before the first request); the style cards are served even when the
    # app is started from another working directory.
    # One login limiter for the sign-in page and the A1111 dialect's basic auth, so guesses
    # count against an account whichever door they use.
    limiter = LoginLimiter()
    rest_apis = rest_apis_lifespan(studio, password_check(limiter), openai_aliases=settings.openai_aliases())
    threads = max(40, studio.gpu_concurrency + 40)  # queued jobs each hold a thread; leave room for the rest
    guards = server_guards(app, data_dir=settings.data_dir, public_dirs=[settings.styles_file.parent / "previews"],
                           accounts=accounts, limiter=limiter,
                           app_kwargs={"lifespan": _with_threads(rest_apis, threads)})
    _, local_url, _ = app.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth_message="Sign in to the studio" if accounts is not None else None,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=not block,
        max_threads=threads,
        **guards,
        **launch_options(),
    )
    return app, local_url


def _with_threads(lifespan, tokens: int):
    """REST jobs run in Starlette's thread pool (40 threads by default); a job waiting its
    turn in the fair queue holds one, so the pool must outgrow the queue or a user's job
    could wait for a thread behind another user's queued jobs."""

    @asynccontextmanager
    async def wrapped(fastapi_app):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = tokens
        async with lifespan(fastapi_app):
            yield

    return wrapped


def main(argv: list[str] | None = None) -> int:
    from pipelines.catalog import CatalogError
    from studio.accounts import AccountsError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(_cli_parse_args=sys.argv[1:] if argv is None else argv)
    try:
        serve(settings)
    except (CatalogError, AccountsError) as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if type(exc).__name__ != "ClusterUnavailable":  # pipelines.serve.client (not imported unless --engine ray)
            raise
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
