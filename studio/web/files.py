"""Each user's files are theirs: who may fetch a file over HTTP, and what an event may be given.

Gradio serves `/gradio_api/file=<path>` to anyone signed in, for any file under the
allowed paths or its own cache; that would let one account read another's images,
uploads and exports by URL. The guard sits in front of that route and decides by owner:

* the data directory's `images/` and `exports/` keep one folder per account
  (`user_subdir`), so the owner of a file there is read off its path;
* gradio's cache (where every file an event returns is copied, and where uploads land)
  says nothing about owners in memory that lasts, so a cached copy is derived from the data
  directory: gradio names the copy `<cache>/<hash of the content>/<file name>`, so it is the
  caller's when their own folder (`images/<them>/`, `exports/<them>/…`) holds a file of that
  name whose content hashes the same. That holds after a restart, so a page's image links
  keep working without a reload. Copies of anything else (an upload, a picture made on the
  fly) go to whoever was *shown* them (the outputs of every event, read as
  `Blocks.process_api` returns them) or *uploaded* them (`/gradio_api/upload` responses);
  files in the app's own layout at start (the style preview cards) are public, as are the
  preset previews and placeholder cards;
* anything else is left to gradio (which refuses files outside its allowed paths).

A file the caller may not have answers 404, the same as one that doesn't exist, so
nobody learns that another user's file is there. Events are checked on the way in too:
a file handed to an event must be one this user uploaded or was shown, and the upload
endpoints accept only files this user uploaded (never a server path of someone else's
image), each upload once: one upload request is good for one event, so an earlier upload
can't be handed in again by its path. Without accounts everyone is the one local user, so
nothing is told apart.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable

from studio.accounts.limiter import client_address  # set here for each request; the login limiter reads it
from studio.services.generation.service import user_subdir
from studio.services.studio import LOCAL_USER

FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/")
UPLOAD_ROUTE = "/gradio_api/upload"
# Endpoints whose file inputs must have been uploaded by the caller (not merely shown to them).
UPLOAD_ONLY_APIS = frozenset({"upload_asset"})
NOT_YOURS = ("That file can't be used here: upload the image from your computer "
             "(only files you upload yourself can be added).")



def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.fspath(path))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _file_paths(value: Any) -> Iterable[str]:
    """Every file path in an event's data: FileData dicts (with or without gradio's meta) and updates."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and path:
            yield path
            return
        for item in value.values():
            yield from _file_paths(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _file_paths(item)


def _diff_paths(value: Any) -> Iterable[str]:
    """`path` values set by gradio's streaming diffs: ["replace"|"add", [..., "path"], "/…"]."""
    if isinstance(value, (list, tuple)):
        if (len(value) == 3 and value[0] in ("replace", "add") and isinstance(value[1], (list, tuple))
                and value[1] and value[1][-1] == "path" and isinstance(value[2], str)):
            yield value[2]
            return
        for item in value:
            yield from _diff_paths(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _diff_paths(item)


def _flat(value: Any) -> Iterable[Any]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flat(item)
    else:
        yield value


class FileGuard:
    """Who may fetch which file; see the module docstring for the rules."""

    def __init__(self, *, images_dir: Path, exports_dir: Path, cache_dir: Path,
                 public_dirs: Iterable[Path] = ()) -> None:
        self.owned_roots = [_real(images_dir), _real(exports_dir)]
        self.cache_root = _real(cache_dir)
        self.public_roots = [_real(p) for p in public_dirs]
        self._shown: dict[str, set[str]] = {}
        self._public: set[str] = set()  # cached copies of the app's own pictures (in its layout at start)
        self._uploaded: dict[str, set[str]] = {}
        self._unused: dict[tuple[str, str], int] = {}  # (path, user) -> uploads not yet handed to an event
        self._lock = threading.Lock()
        self._blocks = None  # set by attach(); its server_app (built by launch) holds the sign-in tokens
        self.sessions = None  # studio.web.login.Sessions: ends sessions of removed accounts, changed passwords

    # -- decisions -----------------------------------------------------------------

    def may_read(self, user: str, path: str) -> bool | None:
        """True/False for files the guard owns a rule for; None for anything else (gradio decides)."""
        real = _real(path)
        if any(_inside(real, root) for root in self.public_roots):
            return True
        for root in self.owned_roots:
            if _inside(real, root):
                rel = os.path.relpath(real, root).split(os.sep)
                return len(rel) > 1 and rel[0] == user_subdir(user)
        if _inside(real, self.cache_root):
            with self._lock:
                who = self._shown.get(real, set()) | self._uploaded.get(real, set())
            return user in who or real in self._public or self._copy_of_own_file(user, real)
        return None

    def _copy_of_own_file(self, user: str, cached: str) -> bool:
        """Is `cached` (gradio's `<cache>/<content hash>/<name>`) a copy of a file in the user's
        own folders? Read from the data directory, so it holds across restarts."""
        parts = os.path.relpath(cached, self.cache_root).split(os.sep)
        if len(parts) != 2 or not os.path.isfile(cached):
            return False
        digest, name = parts
        images, exports = (os.path.join(root, user_subdir(user)) for root in self.owned_roots)
        # images/<them>/<name>; exports/<them>/<random folder>/<name> (one folder per storyboard)
        candidates = [os.path.join(images, name), *_one_level_down(exports, name)]
        return any(_content_hash(c) == digest for c in candidates)

    def uploaded_by(self, user: str, path: str) -> bool:
        """Has `user` an upload of this file not yet handed to an event?"""
        with self._lock:
            return self._unused.get((_real(path), user), 0) > 0

    def _use_uploads(self, user: str, paths: list[str]) -> bool:
        """Spend one upload of each path (all or none): an upload is good for one event."""
        keys = [(_real(p), user) for p in paths]
        with self._lock:
            need: dict[tuple[str, str], int] = {}
            for key in keys:
                need[key] = need.get(key, 0) + 1
            if any(self._unused.get(key, 0) < n for key, n in need.items()):
                return False
            for key, n in need.items():
                self._unused[key] -= n
            return True

    def check_inputs(self, user: str, api_name: str | None, inputs: Any) -> None:
        """Raise ValueError(NOT_YOURS) if an event is handed a file that isn't the caller's to give."""
        upload_only = api_name in UPLOAD_ONLY_APIS
        if upload_only and any(isinstance(v, str) and ("/" in v or "\\" in v) for v in _flat(inputs)):
            raise ValueError(NOT_YOURS)  # a bare server path where a file upload belongs
        paths = list(_file_paths(inputs))
        if upload_only:
            if not self._use_uploads(user, paths):
                raise ValueError(NOT_YOURS)
            return
        for path in paths:
            if not self.may_read(user, path):
                raise ValueError(NOT_YOURS)

    # -- recording -----------------------------------------------------------------

    def shown(self, user: str, data: Any) -> None:
        """Record that `user` was sent these files (the outputs of one event): FileData paths, and
        the `path` values of diffs (how a streamed output arrives). Other texts (a prompt that
        looks like a path) grant nothing."""
        paths = [_real(p) for p in [*_file_paths(data), *_diff_paths(data)]]
        with self._lock:
            for path in paths:
                if _inside(path, self.cache_root):
                    self._shown.setdefault(path, set()).add(user)

    def uploaded(self, user: str, paths: Iterable[str]) -> None:
        """One upload request's files: each readable by `user` and good for one event."""
        with self._lock:
            for path in paths:
                if isinstance(path, str):
                    real = _real(path)
                    self._uploaded.setdefault(real, set()).add(user)
                    self._unused[(real, user)] = self._unused.get((real, user), 0) + 1

    # -- who is calling ------------------------------------------------------------

    def user_of_cookies(self, cookies: dict[str, str]) -> str | None:
        """The signed-in account for these cookies (gradio's own token table); LOCAL_USER without accounts."""
        app = getattr(self._blocks, "server_app", None)
        if app is None:
            return None
        if app.auth is None and app.auth_dependency is None:
            return LOCAL_USER
        token = cookies.get(f"access-token-{app.cookie_id}") or cookies.get(f"access-token-unsecure-{app.cookie_id}")
        if not token:
            return None
        return self.sessions.user(app, token) if self.sessions is not None else app.tokens.get(token)

    # -- wiring into gradio ----------------------------------------------------------

    def attach(self, blocks) -> None:
        """Record what each event returns and check what it is given: wraps this Blocks' `process_api`.

        Files already in the app's layout (the style preview cards) are public."""
        self._blocks = blocks
        self._public = {p for p in map(_real, _file_paths(getattr(blocks, "config", None) or {}))
                        if _inside(p, self.cache_root)}
        original = blocks.process_api
        guard = self

        @functools.wraps(original)
        async def process_api(block_fn, inputs, state=None, request=None, *args, **kwargs):
            user = _request_user(request)
            fn = blocks.fns[block_fn] if isinstance(block_fn, int) else block_fn
            try:
                guard.check_inputs(user, getattr(fn, "api_name", None), inputs)
            except ValueError as exc:
                import gradio as gr

                raise gr.Error(str(exc)) from None
            result = await original(block_fn, inputs, state, request, *args, **kwargs)
            guard.shown(user, result.get("data") if isinstance(result, dict) else result)
            return result

        blocks.process_api = process_api


def _one_level_down(folder: str, name: str) -> list[str]:
    """`folder/*/name`: exports keep each storyboard in its own random folder."""
    try:
        with os.scandir(folder) as entries:
            return [os.path.join(e.path, name) for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _content_hash(path: str) -> str | None:
    """Gradio's name for a cached copy of `path` (its content hash), cached by size and mtime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _hash_of(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _hash_of(path: str, _size: int, _mtime_ns: int) -> str | None:
    from gradio.processing_utils import hash_file

    try:
        return hash_file(path)
    except OSError:
        return None


def _request_user(request) -> str:
    if isinstance(request, list):
        request = request[0] if request else None
    name = getattr(request, "username", None) if request is not None else None
    return name or LOCAL_USER


class GuardMiddleware:
    """ASGI middleware: 404 for files that aren't the caller's; records uploads; notes the client
    address; ends sessions of accounts removed, or passwords changed, while the app runs."""

    def __init__(self, app, guard: FileGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = scope.get("client")
        token = client_address.set(client[0] if client else None)
        try:
            path = scope.get("path", "")
            cookies = _cookies(scope)
            if cookies:
                self.guard.user_of_cookies(cookies)  # ends a session whose account was removed or re-keyed
            if scope.get("method") == "POST" and path.rstrip("/") == "/login" and self.guard.sessions is not None:
                return await self.app(scope, receive, self._noting_login(send))
            if scope.get("method") in ("GET", "HEAD") and path.startswith(FILE_ROUTES):
                target = next(path[len(p):] for p in FILE_ROUTES if path.startswith(p))
                user = self.guard.user_of_cookies(cookies)
                if user is not None and self.guard.may_read(user, target) is False:
                    return await _not_found(send)
            elif scope.get("method") == "POST" and path.rstrip("/") == UPLOAD_ROUTE:
                user = self.guard.user_of_cookies(cookies)
                if user is not None:
                    return await self._recording_upload(scope, receive, send, user)
            return await self.app(scope, receive, send)
        finally:
            client_address.reset(token)

    def _noting_login(self, send):
        """Tell the sessions about the token a successful sign-in sets (read from its Set-Cookie)."""

        async def capture(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie":
                        token = value.decode("latin-1").split(";", 1)[0].partition("=")[2]
                        app = getattr(self.guard._blocks, "server_app", None)
                        if token and app is not None:
                            self.guard.sessions.signed_in(app, token)
            await send(message)

        return capture

    async def _recording_upload(self, scope, receive, send, user: str):
        status, body = 0, bytearray()

        async def capture(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200 and len(body) < 1 << 20:
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    try:
                        paths = json.loads(bytes(body).decode())
                    except ValueError:
                        paths = []
                    if isinstance(paths, list):
                        self.guard.uploaded(user, paths)
            await send(message)

        await self.app(scope, receive, capture)


def _cookies(scope) -> dict[str, str]:
    """The request's cookies, parsed the way Starlette (and so gradio's own login check) parses them."""
    from starlette.requests import cookie_parser

    jar: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar.update(cookie_parser(value.decode("latin-1")))
    return jar


async def _not_found(send) -> None:
    body = b'{"detail":"Not Found"}'
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
