"""Server-side wiring that is not a Gradio widget: the file guard and the sign-in.

`server_guards(...)` is the one call app.py makes: it returns the extra `launch()`
arguments (the auth callable, the middleware, the allowed paths) and a function to call
on the Blocks before launch. Both halves are needed: the middleware answers file URLs,
the Blocks hook records which cached files each user was shown.
"""

from __future__ import annotations

from pathlib import Path

from studio.accounts import Accounts, LoginLimiter
from studio.web.files import FileGuard, GuardMiddleware

__all__ = ["FileGuard", "GuardMiddleware", "server_guards"]


def server_guards(blocks, *, data_dir: Path, public_dirs: list[Path], accounts: Accounts | None,
                  limiter: LoginLimiter | None = None, app_kwargs: dict | None = None) -> dict:
    """Attach the file guard to `blocks` and return the `launch()` keyword arguments it needs.

    `app_kwargs`: other FastAPI arguments for launch() (e.g. a lifespan that mounts more
    routes); the guard's middleware is added to them, so pass them here, not to launch()."""
    from starlette.middleware import Middleware

    from gradio.utils import get_upload_folder
    from studio.web.login import Sessions, make_auth

    guard = FileGuard(images_dir=data_dir / "images", exports_dir=data_dir / "exports",
                      cache_dir=Path(get_upload_folder()), public_dirs=[*public_dirs, data_dir / "exports" / "_ui"])
    guard.attach(blocks)
    guard.sessions = Sessions(accounts) if accounts is not None else None
    return {
        "auth": make_auth(accounts, limiter or LoginLimiter()) if accounts is not None else None,
        "app_kwargs": {**(app_kwargs or {}),
                       "middleware": [*(app_kwargs or {}).get("middleware", []), Middleware(GuardMiddleware, guard=guard)]},
        "allowed_paths": [str(data_dir / "images"), str(data_dir / "exports"), *map(str, public_dirs)],
    }

