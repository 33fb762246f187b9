"""Replace a file whole or not at all: the one way the studio writes files others read.

A crash (or a full disk) mid-write must never leave a truncated PNG, database or export
where the gallery, TinyDB or a download expects a complete one. So every such write goes
to a temp file in the target's own folder (same filesystem, so the rename is atomic), is
flushed and fsynced, then `os.replace`d over the target, and the folder is fsynced so
the rename itself survives a power cut. On any failure the temp file is removed and the
old target, if any, is left untouched.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

TEMP_PREFIX = ".tmp-"


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (POSIX); a no-op where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_file(target: Path | str, *, prefix: str = TEMP_PREFIX, suffix: str | None = None) -> Iterator[BinaryIO]:
    """A binary file to write `target`'s new content into; it replaces `target` on a clean exit.

    The temp file is named `<prefix>XXXX<suffix>` in `target`'s folder (`suffix` defaults to
    the target's own), so callers can recognise and clean up leftovers of a killed process.
    """
    target = Path(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=prefix, suffix=target.suffix if suffix is None else suffix, dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as tmp:
            yield tmp
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
