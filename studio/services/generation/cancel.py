"""Running jobs by caller key, so a Cancel click reaches the job it belongs to.

Keyed by the Gradio session (browser tab or API client), never a module global:
the registry is created by the composition root and shared by the tabs.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from pipelines.types import CancelToken


class CancelRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, CancelToken] = {}

    @contextmanager
    def running(self, key: str) -> Iterator[CancelToken]:
        token = CancelToken()
        with self._lock:
            self._tokens[key] = token
        try:
            yield token
        finally:
            with self._lock:
                if self._tokens.get(key) is token:
                    del self._tokens[key]

    def cancel(self, key: str) -> bool:
        """True when a job was running for this key and has been told to stop."""
        with self._lock:
            token = self._tokens.get(key)
        if token is None:
            return False
        token.cancel()
        return True
