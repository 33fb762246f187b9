"""Composition root: settings → store → pipeline manager → services → Gradio app.

`python app.py --help` lists the flags; each has a STUDIO_ env var twin.
Importing this module builds nothing: tests and Spaces call `build_studio` and
`create_app` themselves, and the server starts only under __main__.
"""

from __future__ import annotations

import logging
import sys

from studio.settings import Settings

log = logging.getLogger("studio")


def build_studio(settings: Settings):
    """Everything the app needs, wired once. Loads no model (that happens on first use)."""
    from pipelines.catalog import load_catalog
    from pipelines.manager import PipelineManager
    from studio.services.gen_space.assets import AssetService
    from studio.services.generation.cancel import CancelRegistry
    from studio.services.gen_space.shot_generation import GenSpaceService
    from studio.services.gen_space.projects import ProjectService
    from studio.services.gen_space.shots import ShotService
    from studio.services.gen_space.storyboard import StoryboardService
    from studio.services.billing.admin import AdminService
    from studio.services.billing.ledger import CreditsService
    from studio.services.generation.service import GenerationService
    from studio.services.prompts.library import PromptLibrary
    from studio.services.generation.recovery import recover
    from studio.services.studio import Studio
    from studio.services.prompts.styles import load_styles
    from studio.store import ImageFiles, open_store

    _quiet_library_progress_bars()
    catalog = load_catalog(settings.models_file)
    user_models = settings.resolved_user_models_file()
    if user_models is not None:
        catalog = catalog.with_models(load_catalog(user_models).models)
    styles = load_styles(settings.styles_file)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.data_dir)
    images = ImageFiles(settings.data_dir / "images")
    engine = PipelineManager(
        catalog,
        device=settings.device,
        vram_budget_gb=settings.vram_budget_gb,
        ram_budget_gb=settings.ram_budget_gb,
        ram_limit_bytes=None if settings.ram_limit_gb is None else int(settings.ram_limit_gb * 2**30),
        cache_dir=settings.hf_cache_dir,
        models_dir=settings.data_dir / "models",
        merge_window_ms=settings.merge_window_ms,
    )
    _use_zero_gpu_if_on_a_space(engine)
    credits = CreditsService(store, settings.starting_credits)
    recover(store, credits, images)  # jobs a killed process left running: failed, refunded once, files swept
    admin = AdminService(store, credits, admins=settings.admin_names(), default_daily_limit=settings.daily_limit)
    generation = GenerationService(engine=engine, styles=styles, credits=credits, store=store, images=images)
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
        gpu_concurrency=8 if settings.merge_window_ms else 1,
        admin=admin,
        refine=_refine_service(generation, settings),
    )


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
    from studio.api import rest_apis_lifespan
    from studio.ui.app import create_app, launch_options
    from studio.web import server_guards

    accounts = settings.load_accounts()
    check_exposure(accounts, share=settings.share, public=settings.public, admins=settings.admin_names())
    use_accounts(accounts)
    studio = build_studio(settings)
    studio.admin.known_users = accounts.users if accounts is not None else None
    if settings.preload:
        studio.engine.preload(studio.choose_default_model())
    app = create_app(studio)
    app.queue(default_concurrency_limit=4)
    # The file guard (each user's files are theirs), the rate-limited sign-in, and the A1111 and
    # OpenAI routes (in place before the first request); the style cards are served even when the
    # app is started from another working directory.
    # One login limiter for the sign-in page and the A1111 dialect's basic auth, so guesses
    # count against an account whichever door they use.
    limiter = LoginLimiter()
    rest_apis = rest_apis_lifespan(studio, password_check(limiter), openai_aliases=settings.openai_aliases())
    guards = server_guards(app, data_dir=settings.data_dir, public_dirs=[settings.styles_file.parent / "previews"],
                           accounts=accounts, limiter=limiter, app_kwargs={"lifespan": rest_apis})
    _, local_url, _ = app.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth_message="Sign in to the studio" if accounts is not None else None,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=not block,
        **guards,
        **launch_options(),
    )
    return app, local_url


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
