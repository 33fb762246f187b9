"""LoRA and embedding files for replicas that do not share the host's disk.

Why through Ray's object store and not a shared folder: GPU boxes in a cluster rarely share
a filesystem with the studio host, and a LoRA is a few MB (an SDXL one a few hundred). The
host is the one place that knows the files (its AdapterLibrary checks, lists and records
them), so each job names the files it needs with their hashes, and the bytes travel once
per file version: the host puts a file into the object store the first time a job needs
it (`HostFiles`), a replica writes it into its own adapter folder the first time it meets
that hash (`ReplicaFiles`) and reads it from there afterwards, through the same
AdapterLibrary and loader as a single box.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pipelines.adapters import AdapterLibrary
from pipelines.types import GenerationRequest

KEPT_REFS = 32  # files the host keeps in the object store; an evicted one is put again when needed


class HostFiles:
    """The host side: which files a request needs, as (kind, name, hash, object ref)."""

    def __init__(self, library: AdapterLibrary | None) -> None:
        self.library = library
        self._refs: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def needed(self, request: GenerationRequest, family: str) -> list[dict]:
        if self.library is None:
            return []
        files = [("lora", lora.name, lora.short_hash, lora.path)
                 for lora in (self.library.resolve(name) for name, _ in request.loras)]
        files += [("embedding", emb.name, emb.short_hash, emb.path)
                  for emb in self.library.embeddings_called(family, (request.prompt, request.negative_prompt))]
        return [{"kind": kind, "name": name, "hash": digest, "ref": self._ref(kind, name, digest, path)}
                for kind, name, digest, path in files]

    def _ref(self, kind: str, name: str, digest: str, path: Path):
        import ray

        key = (kind, name, digest)
        with self._lock:
            ref = self._refs.get(key)
            if ref is not None:
                self._refs.move_to_end(key)
                return ref
        ref = ray.put(Path(path).read_bytes())
        with self._lock:
            self._refs[key] = ref
            while len(self._refs) > KEPT_REFS:
                self._refs.popitem(last=False)
        return ref


class ReplicaFiles:
    """The replica side: its own adapter folders, filled from the object store by hash."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.library = AdapterLibrary(self.root / "loras", self.root / "embeddings")
        for folder in (self.library.loras_dir, self.library.embeddings_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.received: list[str] = []  # "kind:name:hash" written here, in order (for tests and logs)

    def missing(self, files: list[dict]) -> list[dict]:
        return [f for f in files if self._local_hash(f["kind"], f["name"]) != f["hash"]]

    def store(self, file: dict, data: bytes) -> None:
        """Write one file atomically under its name (a newer version replaces the older)."""
        folder = self.library.loras_dir if file["kind"] == "lora" else self.library.embeddings_dir
        if Path(file["name"]).name != file["name"] or file["name"].startswith("."):
            raise ValueError(f"not a file name: {file['name']!r}")
        with self._lock:
            handle, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(tmp, folder / f"{file['name']}.safetensors")
            self.library.refresh()
            self.received.append(f"{file['kind']}:{file['name']}:{file['hash']}")

    def _local_hash(self, kind: str, name: str) -> str | None:
        if kind == "lora":
            found = self.library.lora(name)
        else:
            found = next((e for e in self.library.embeddings() if e.name == name), None)
        return found.short_hash if found is not None else None
