"""`python -m studio.cli.space DIR`: a folder ready to push as a Hugging Face Space.

A Space wants its settings as YAML front matter in README.md and runs `python app.py`,
while this repository's README must stay a plain document and its app.py is the
composition root that tests import. So the Space gets its own README and a small
app.py that sets what a Space needs (listen on 0.0.0.0, persistent /data when
mounted), imports `spaces` before torch (ZeroGPU must come first) and then runs the
studio's own composition root, copied as studio_app.py. Generation then runs under
`spaces.GPU` (see `_use_zero_gpu_if_on_a_space` in app.py).

The folder is built next to DIR and renamed into place, so a failed build never
leaves half a Space; an existing DIR is replaced only if this command made it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from studio.settings import REPO_ROOT

MARKER = ".studio-space"
PACKAGES = ("studio", "pipelines", "presets")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "screenshots")
SPACES_PIN = "spaces==0.51.3"
DEMO_PIN = "gan-face-generate==1.1.1"

APP_PY = '''"""Hugging Face Space entry point, written by `python -m studio.cli.space`.

Sets what a Space needs, then runs the studio's composition root (studio_app.py).
"""

import os
import sys

os.environ.setdefault("STUDIO_HOST", "0.0.0.0")
os.environ.setdefault("STUDIO_PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))
if os.path.isdir("/data") and os.access("/data", os.W_OK):  # the Space's persistent storage, when it has one
    os.environ.setdefault("STUDIO_DATA_DIR", "/data/studio")

try:
    import spaces  # noqa: F401  before torch: ZeroGPU prepares CUDA first
except ImportError:  # a plain CPU or GPU Space without the package
    pass

from studio_app import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main([]))
'''

README = """---
title: {title}
emoji: 🎨
colorFrom: purple
colorTo: indigo
sdk: gradio
sdk_version: {gradio}
python_version: "3.11"
app_file: app.py
pinned: false
short_description: Image generation studio with credits, Gen Space and A1111/OpenAI APIs
---

# {title}

A self-hosted image generation studio (Image Studio and Gen Space tabs), deployed as a Space.
Written by `python -m studio.cli.space`; rebuild it from the studio's repository rather than
editing it here.

- Settings are environment variables with the `STUDIO_` prefix (Space settings → Variables),
  e.g. `STUDIO_AUTH` (accounts, as `user:password,user2:password2`; set it as a *secret*),
  `STUDIO_STARTING_CREDITS`, `STUDIO_DEFAULT_MODEL`.
- With persistent storage the data (database, images, converted models) lives in `/data/studio`;
  without it, it is lost when the Space restarts.
- On ZeroGPU hardware each generation borrows the GPU through `spaces.GPU`.
- Programs can use the AUTOMATIC1111 API at `/sdapi/v1` and the OpenAI images API at `/v1`
  (with accounts on, with an API key from the API keys panel).
"""


def requirements_text() -> str:
    base = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").rstrip("\n")
    return (
        f"{base}\n"
        "# Space only: ZeroGPU support, and the offline demo model's weights. A requirements file\n"
        "# cannot say --no-deps, so gan-face-generate brings its own dependencies here (torch above\n"
        "# already satisfies its torch>=2.1).\n"
        f"{SPACES_PIN}\n{DEMO_PIN}\n"
    )


def build_space(target: Path, *, title: str = "Image Generation Studio") -> Path:
    target = Path(target).resolve()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / MARKER).is_file())):
        raise SystemExit(f"{target} exists and was not made by this command; pick an empty or new folder.")
    if target == REPO_ROOT or REPO_ROOT in target.parents:
        raise SystemExit("Write the Space outside the repository (it copies the repository's folders).")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name in PACKAGES:
            shutil.copytree(REPO_ROOT / name, staging / name, ignore=IGNORE)
        shutil.copy2(REPO_ROOT / "app.py", staging / "studio_app.py")
        (staging / "app.py").write_text(APP_PY, encoding="utf-8")
        (staging / "README.md").write_text(README.format(title=title, gradio=metadata.version("gradio")), encoding="utf-8")
        (staging / "requirements.txt").write_text(requirements_text(), encoding="utf-8")
        (staging / ".gitignore").write_text("__pycache__/\n*.pyc\n/data/\n", encoding="utf-8")
        # The Hub refuses plain-git binaries: the style cards go through LFS, as in every Space repo.
        (staging / ".gitattributes").write_text("*.png filter=lfs diff=lfs merge=lfs -text\n", encoding="utf-8")
        (staging / MARKER).write_text("written by python -m studio.cli.space\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.cli.space", description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="the folder to write (new, empty, or one this command wrote before)")
    parser.add_argument("--title", default="Image Generation Studio", help="the Space's title")
    args = parser.parse_args(argv)
    out = build_space(args.dir, title=args.title)
    print(f"Space written to {out}. Push it: cd {out} && git init && git remote add space "
          "https://huggingface.co/spaces/USER/NAME && git add . && git commit -m space && git push space HEAD:main")
    return 0


if __name__ == "__main__":
    sys.exit(main())
