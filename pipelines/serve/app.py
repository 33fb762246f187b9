"""A Serve application builder for clusters that deploy the engine themselves (a KubeRay
`RayService`'s `serveConfigV2`, or `serve deploy config.yaml`): `import_path:
pipelines.serve.app:build`. The studio host then joins with `--no-ray-deploy`.

Why env vars and not the app's Settings: `pipelines` never imports `studio`, and the
replicas' environment is what a Serve config can set (`runtime_env.env_vars`). The names are
the app's own STUDIO_ twins, so one set of values configures both sides.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _number(name: str, kind=float):
    value = os.environ.get(name)
    return None if value in (None, "") else kind(value)


def build(args: dict | None = None):
    """The bound StudioEngine deployment; `args` (the config's `args:`) may override
    `models_file` and `user_models_file`."""
    from pipelines.catalog import load_catalog
    from pipelines.serve.deployment import StudioEngine

    args = dict(args or {})
    catalog = load_catalog(args.get("models_file") or os.environ.get("STUDIO_MODELS_FILE") or REPO / "presets" / "models.json")
    extra = args.get("user_models_file") or os.environ.get("STUDIO_USER_MODELS_FILE")
    if extra:
        catalog = catalog.with_models(load_catalog(extra).models)
    manager_options = {
        "device": os.environ.get("STUDIO_DEVICE", "auto"),
        "vram_budget_gb": _number("STUDIO_VRAM_BUDGET_GB"),
        "ram_budget_gb": _number("STUDIO_RAM_BUDGET_GB"),
        "merge_window_ms": _number("STUDIO_MERGE_WINDOW_MS", int) or 0,
        "models_dir": os.environ.get("STUDIO_RAY_MODELS_DIR"),
        "cache_dir": os.environ.get("STUDIO_HF_CACHE_DIR"),
        "cpu_threads": _number("STUDIO_RAY_CPU_THREADS", int),
    }
    return StudioEngine.bind(catalog.model_dump(mode="json"), manager_options)
