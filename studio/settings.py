"""One settings class for the whole app: env vars (STUDIO_ prefix), CLI flags, defaults.

Every flag has an env var twin so a Hugging Face Space or a systemd unit can
configure the app without a command line; the CLI wins over the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDIO_",
        extra="forbid",
        cli_kebab_case=True,
        cli_prog_name="python app.py",
        cli_implicit_flags=True,
    )

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 for a LAN or a container)")
    port: int = Field(7860, ge=1, le=65535, description="port to listen on")
    share: bool = Field(False, description="open a public Gradio share link (needs accounts, or --public)")
    public: bool = Field(
        False, description="allow --share without accounts: anyone with the link uses the one shared account"
    )
    auth: str | None = Field(
        None,
        description="accounts as 'user:password,user2:password2', or an accounts file made by "
        "`python -m studio.accounts add USER` (default: <data-dir>/accounts.txt if it exists)",
    )
    admins: str | None = Field(None, description="comma-separated accounts that see the Admin panel and API")
    daily_limit: int | None = Field(
        None, ge=0, description="credits each account may spend per UTC day (default: no limit; admins can set per account)"
    )
    data_dir: Path = Field(REPO_ROOT / "data", description="where the database, images and converted models live")
    starting_credits: int = Field(100, ge=0, description="credits every new user starts with")
    default_model: str | None = Field(None, description="catalog id selected at start (default: first downloaded, else the offline demo)")
    models_file: Path = Field(REPO_ROOT / "presets" / "models.json", description="the model catalog")
    styles_file: Path = Field(REPO_ROOT / "presets" / "styles.json", description="the style presets")
    user_models_file: Path | None = Field(
        None, description="extra catalog entries (same format as presets/models.json); default <data-dir>/models.json if present"
    )
    loras_dir: Path | None = Field(None, description="LoRA .safetensors files (default: <data-dir>/loras)")
    embeddings_dir: Path | None = Field(
        None, description="textual-inversion .safetensors embeddings (default: <data-dir>/embeddings)")
    lora_catalog_file: Path | None = Field(
        None, description="catalog LoRAs fetched from the Hugging Face Hub on first use: a JSON list of "
        "{name, repo_id, filename, family[, revision]}")
    hf_cache_dir: Path | None = Field(None, description="Hugging Face cache for downloaded models (default: the HF default)")
    device: Literal["auto", "cuda", "mps", "cpu"] = Field("auto", description="where models run")
    vram_budget_gb: float | None = Field(None, gt=0, description="GPU memory for resident models (default: 70% of the card)")
    ram_budget_gb: float | None = Field(None, gt=0, description="CPU memory for models kept warm off the GPU (default: 50% of RAM)")
    ram_limit_gb: float | None = Field(
        None, gt=0, description="a model whose weights need more memory than this is refused before loading (default: 90% of RAM)"
    )
    preload: bool = Field(False, description="load the default model at start instead of on first use")
    merge_window_ms: int = Field(
        0, ge=0, le=500,
        description="run compatible requests that wait for the same model as one batch, waiting up to this long for company (0: off)",
    )

    # Engine: this process's GPU, or a Ray Serve cluster (pipelines/serve; `pip install -r
    # pipelines/serve/requirements.txt`). README "More than one GPU box" explains each one.
    engine: Literal["local", "ray"] = Field("local", description="where models run: this process (local) or a Ray Serve cluster (ray)")
    ray_address: str = Field("auto", description="Ray cluster to join: auto (the one this machine joined with `ray start`) or HOST:PORT")
    ray_replicas: int = Field(1, ge=1, description="engine replicas on the cluster (fixed count; see --ray-min/max-replicas)")
    ray_min_replicas: int | None = Field(None, ge=0, description="autoscaling: fewest replicas (set with --ray-max-replicas)")
    ray_max_replicas: int | None = Field(None, ge=1, description="autoscaling: most replicas")
    ray_target_ongoing_requests: float = Field(1.0, gt=0, description="autoscaling: jobs per replica before another is added")
    ray_max_ongoing_requests: int = Field(1, ge=1, description="jobs one replica accepts at once (more wait on it for their model)")
    ray_num_gpus: float = Field(1.0, ge=0, description="GPUs per replica; a fraction (0.5) shares a card between replicas")
    ray_num_cpus: float = Field(1.0, ge=0, description="CPUs per replica, in Ray's accounting")
    ray_cpu_threads: int | None = Field(None, ge=1, description="torch threads per replica (default: torch's choice)")
    ray_allow_cpu: bool = Field(False, description="on a cluster without GPUs, run replicas on CPUs instead of refusing to start")
    ray_models_per_replica: int = Field(3, ge=1, description="models a replica keeps loaded (least recently used goes first)")
    ray_models_dir: str | None = Field(None, description="where each replica converts the demo model and keeps the LoRA and embedding files the studio sends it (default: ~/.cache/studio-models on its node)")
    ray_deploy: bool = Field(True, description="deploy the engine on the cluster; off: use the one a RayService already runs")
    ray_app_name: str = Field("studio-engine", description="the Serve application's name (two studios sharing a cluster need two)")
    max_running_per_user: int | None = Field(
        None, ge=1, description="jobs one account may have running at once (default: no limit; accounts always take turns)"
    )
    max_queued_jobs: int = Field(64, ge=1, description="jobs admitted to the fair queue at once; more wait in line before it")
    openai_model_aliases: str = Field(
        "dall-e-2,dall-e-3,gpt-image-1",
        description="OpenAI model names the images API accepts, comma-separated; 'alias' names the default model, "
        "'alias=model-id' a catalog model",
    )

    @field_validator("auth")
    @classmethod
    def _auth_shape(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            return None
        return v

    def accounts_file(self) -> Path:
        """Where `python -m studio.accounts` keeps accounts by default, and where the app looks for them."""
        return self.data_dir / "accounts.txt"

    def install_secret(self, name: str) -> str:
        """A random secret made once for this install and kept in the data directory
        (`<data-dir>/<name>.secret`, readable by its owner only), so it survives restarts and
        differs between installs: e.g. the key gr.BrowserState encrypts the browser's copy with."""
        import os
        import secrets

        path = self.data_dir / f"{name}.secret"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # two starts at once: one writes
        except FileExistsError:
            for _ in range(50):  # the other start may still be writing it
                value = path.read_text(encoding="utf-8").strip()
                if value:
                    return value
                import time

                time.sleep(0.02)
            raise OSError(f"{path} is empty: delete it and start again") from None
        value = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return value

    def load_accounts(self):
        """The accounts (`studio.accounts.Accounts`) from --auth or the default file; None when off."""
        from studio.accounts import parse_auth

        return parse_auth(self.auth, default_file=self.accounts_file())

    def openai_aliases(self) -> dict[str, str | None]:
        """alias -> catalog id (None: the default model), from --openai-model-aliases."""
        pairs = (part.strip().partition("=") for part in self.openai_model_aliases.split(","))
        return {alias.strip().lower(): (model.strip() or None) for alias, _, model in pairs if alias.strip()}

    def admin_names(self) -> list[str]:
        return [name.strip() for name in (self.admins or "").split(",") if name.strip()]

    def resolved_user_models_file(self) -> Path | None:
        if self.user_models_file is not None:
            return self.user_models_file
        candidate = self.data_dir / "models.json"
        return candidate if candidate.is_file() else None
