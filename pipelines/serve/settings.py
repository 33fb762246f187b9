"""How the engine deployment is shaped on a Ray cluster, as one plain value.

Kept free of Ray and of `studio` (the app's `Settings` fills it in `app.py`), so the
options can be built, checked and printed without a cluster, and the same value gives
both the Serve deployment options and the example KubeRay config in the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field

APP_NAME = "studio-engine"
DEPLOYMENT_NAME = "StudioEngine"
NAMESPACE = "studio"


@dataclass(frozen=True)
class ServeOptions:
    """address: "auto" (the cluster this machine joined with `ray start`) or HOST:PORT of the
    head's GCS (port 6379 by default).
    replicas: a fixed replica count; ignored when min/max replicas are set (autoscaling).
    num_gpus: GPUs each replica takes; a fraction (0.5) lets two replicas share a card.
    num_cpus: CPUs each replica takes from Ray's accounting.
    cpu_threads: torch threads per replica (None: torch's default).
    allow_cpu: when the cluster declares no GPU at all, run replicas on CPUs instead of
    stopping with a message.
    max_ongoing_requests: jobs one replica accepts at once (one runs per model; others wait there).
    target_ongoing_requests: the autoscaler adds replicas when replicas hold more than this.
    models_per_replica: models one replica keeps loaded before its least recently used goes
    (Serve's multiplexing LRU; the pipeline manager's memory budgets still apply inside).
    """

    address: str = "auto"
    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    num_gpus: float = 1.0
    num_cpus: float = 1.0
    cpu_threads: int | None = None
    allow_cpu: bool = False
    max_ongoing_requests: int = 1
    target_ongoing_requests: float = 1.0
    models_per_replica: int = 3
    device: str = "auto"
    vram_budget_gb: float | None = None
    ram_budget_gb: float | None = None
    merge_window_ms: int = 0
    models_dir: str | None = None  # where a replica converts the demo model (default: ~/.cache/studio-models)
    hf_cache_dir: str | None = None  # each node's Hugging Face cache (default: the HF default)
    env: dict[str, str] = field(default_factory=dict)  # passed to the replicas (HF_HUB_OFFLINE, HF_TOKEN…)
    app_name: str = APP_NAME  # the Serve application; two studios on one cluster need two names
    deploy: bool = True  # False: use the application the cluster already runs (KubeRay RayService)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError("ray replicas must be at least 1")
        if self.num_gpus < 0 or self.num_cpus < 0:
            raise ValueError("num_gpus and num_cpus cannot be negative")
        if (self.min_replicas is None) != (self.max_replicas is None):
            raise ValueError("set both ray min and max replicas for autoscaling, or neither")
        if self.min_replicas is not None and not 0 <= self.min_replicas <= self.max_replicas or (
            self.max_replicas is not None and self.max_replicas < 1
        ):
            raise ValueError("ray replicas: need 0 ≤ min ≤ max and max ≥ 1")
        if self.max_ongoing_requests < 1 or self.target_ongoing_requests <= 0 or self.models_per_replica < 1:
            raise ValueError("max ongoing requests, target ongoing requests and models per replica must be positive")

    @property
    def autoscaling(self) -> bool:
        return self.max_replicas is not None

    def capacity(self) -> int:
        """Jobs the cluster can run at once at its largest (what the fair dispatcher lets in)."""
        return self.max_replicas if self.autoscaling else self.replicas

    def deployment_options(self, num_gpus: float | None = None) -> dict:
        """`Deployment.options(...)` for the engine; `num_gpus` overrides (0 for CPU placement)."""
        gpus = self.num_gpus if num_gpus is None else num_gpus
        actor: dict = {"num_cpus": self.num_cpus, "num_gpus": gpus}
        env = {**self.env, "STUDIO_RAY_MODELS_PER_REPLICA": str(self.models_per_replica)}
        if self.cpu_threads:
            env.update(OMP_NUM_THREADS=str(self.cpu_threads), MKL_NUM_THREADS=str(self.cpu_threads))
        actor["runtime_env"] = {"env_vars": env}
        options: dict = {
            "name": DEPLOYMENT_NAME,
            "ray_actor_options": actor,
            "max_ongoing_requests": self.max_ongoing_requests,
            "health_check_period_s": 10,
            "health_check_timeout_s": 30,
            "graceful_shutdown_timeout_s": 5,
        }
        if self.autoscaling:
            options["autoscaling_config"] = {
                "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas,
                "target_ongoing_requests": self.target_ongoing_requests,
            }
        else:
            options["num_replicas"] = self.replicas
        return options

    def manager_options(self, on_gpu: bool) -> dict:
        """What each replica passes to its PipelineManager."""
        return {
            "device": self.device if on_gpu or self.device != "auto" else "cpu",
            "vram_budget_gb": self.vram_budget_gb,
            "ram_budget_gb": self.ram_budget_gb,
            "merge_window_ms": self.merge_window_ms,
            "models_dir": self.models_dir,
            "cache_dir": self.hf_cache_dir,
            "cpu_threads": self.cpu_threads,
        }
