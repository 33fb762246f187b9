"""Each user's files are theirs, over HTTP: two signed-in accounts on one launched app.

Every URL the app hands ana (generated images, uploads, storyboard ZIPs and contact
sheets; both gradio's cached copies and the data directory paths) answers her and gives
ben a 404; the style cards stay public; an upload given a server path is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.launched_app import REPO, launched_app


NOT_YOURS = "only files you upload yourself can be added"


class Session:
    """A browser-like signed-in session: gradio's login cookie, raw HTTP."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        assert self.http.post("/login", data={"username": user, "password": password}).status_code == 200

    def status(self, url: str) -> int:
        got, head = self.http.get(url).status_code, self.http.head(url).status_code
        assert got == head, (url, got, head)
        return got

    def call(self, api: str, *data) -> tuple[str, object]:
        """A queued event over gradio's HTTP API; (event, data) of its last message."""
        started = self.http.post(f"/gradio_api/call/{api}", json={"data": list(data)})
        assert started.status_code == 200, started.text
        stream = self.http.get(f"/gradio_api/call/{api}/{started.json()['event_id']}").text
        event = data_line = None
        for line in stream.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data_line = line[6:]
        return event, json.loads(data_line) if data_line else None


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    data = root / "data"
    with launched_app(data, "--auth", "ana:pw-ana,ben:pw-ben") as url:
        ana = Client(url, auth=("ana", "pw-ana"), verbose=False, download_files=False)
        ben = Client(url, auth=("ben", "pw-ben"), verbose=False, download_files=False)
        yield {"url": url, "data": data, "root": root, "ana": ana, "ben": ben,
               "ana_http": Session(url, "ana", "pw-ana"), "ben_http": Session(url, "ben", "pw-ben")}


# -- the guard's rules, without a server ------------------------------------------------------

def make_guard(tmp_path):
    from studio.services.generation.service import user_subdir
    from studio.web.files import FileGuard

    data, cache = tmp_path / "data", tmp_path / "cache"
    for user in ("ana", "ben"):
        (data / "images" / user_subdir(user)).mkdir(parents=True)
        (data / "images" / user_subdir(user) / "a.png").write_bytes(b"png")
    (cache / "h1").mkdir(parents=True)
    (cache / "h1" / "a.png").write_bytes(b"png")
    (tmp_path / "previews").mkdir()
    guard = FileGuard(images_dir=data / "images", exports_dir=data / "exports", cache_dir=cache,
                      public_dirs=[tmp_path / "previews"])
    return guard, data, cache, user_subdir


def test_guard_rules_owner_folders_traversal_and_links(tmp_path):
    guard, data, cache, subdir = make_guard(tmp_path)
    anas = data / "images" / subdir("ana") / "a.png"
    assert guard.may_read("ana", str(anas)) is True and guard.may_read("ben", str(anas)) is False
    sneaky = f"{cache}/h1/../../data/images/{subdir('ana')}/a.png"
    assert guard.may_read("ben", sneaky) is False
    (data / "images" / subdir("ben") / "link.png").symlink_to(anas)
    assert guard.may_read("ben", str(data / "images" / subdir("ben") / "link.png")) is False
    assert guard.may_read("ben", str(data / "images")) is False  # the folder itself
    assert guard.may_read("ben", str(tmp_path / "previews" / "x.png")) is True
    assert guard.may_read("ben", "/etc/passwd") is None  # not ours to decide: gradio refuses it


def test_guard_cache_files_go_to_whoever_was_shown_or_uploaded_them(tmp_path):
    guard, _, cache, _ = make_guard(tmp_path)
    cached = str(cache / "h1" / "a.png")
    assert guard.may_read("ana", cached) is False
    guard.shown("ana", [{"image": {"path": cached, "url": "x"}, "caption": None}])
    assert guard.may_read("ana", cached) is True and guard.may_read("ben", cached) is False
    guard.uploaded("ben", [cached])
    assert guard.uploaded_by("ben", cached) and not guard.uploaded_by("ana", cached)
    guard.check_inputs("ben", "upload_asset", ["0" * 32, {"path": cached}])
    with pytest.raises(ValueError, match="only files you upload yourself"):
        guard.check_inputs("ana", "upload_asset", ["0" * 32, {"path": cached}])
    guard.check_inputs("ana", "ui_select", [{"path": cached}])  # shown to ana: she may hand it back
    with pytest.raises(ValueError):
        guard.check_inputs("cleo", "ui_select", [{"path": cached}])
    guard.shown("dan", [["replace", [0, "image", "path"], cached]])  # a streamed output's diff
    assert guard.may_read("dan", cached) is True
    guard.shown("eve", ["your prompt was:", cached])  # text that merely looks like a path grants nothing
    assert guard.may_read("eve", cached) is False
    guard.shown("*", [{"path": cached}])  # no account name is a wildcard
    assert guard.may_read("cleo", cached) is False


def test_a_cached_copy_is_its_owners_by_the_data_directory_not_by_memory(tmp_path):
    """What a restart leaves: gradio's cached copies on disk, an empty guard. A copy named by
    the content hash of a file in the caller's own folder is theirs; the same name with other
    content, or someone else's file, is not."""
    from gradio.processing_utils import hash_file

    guard, data, cache, subdir = make_guard(tmp_path)
    own = data / "images" / subdir("ana") / "a.png"
    own.write_bytes(b"ana's picture")
    copy = cache / hash_file(own) / "a.png"
    copy.parent.mkdir()
    copy.write_bytes(own.read_bytes())
    assert guard.may_read("ana", str(copy)) is True
    assert guard.may_read("ben", str(copy)) is False, "ben has an a.png too, with other content"
    export = data / "exports" / subdir("ana") / ("f" * 24) / "board.zip"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"zip")
    zipped = cache / hash_file(export) / "board.zip"
    zipped.parent.mkdir()
    zipped.write_bytes(b"zip")
    assert guard.may_read("ana", str(zipped)) is True and guard.may_read("ben", str(zipped)) is False
    forged = cache / ("0" * 64) / "a.png"  # right name, wrong hash
    forged.parent.mkdir()
    forged.write_bytes(b"ana's picture")
    assert guard.may_read("ana", str(forged)) is False


def test_an_upload_is_good_for_the_one_event_it_was_made_for(tmp_path):
    guard, _, cache, _ = make_guard(tmp_path)
    cached = str(cache / "h1" / "a.png")
    guard.uploaded("ana", [cached])
    guard.check_inputs("ana", "upload_asset", ["0" * 32, {"path": cached}])
    with pytest.raises(ValueError, match="only files you upload yourself"):
        guard.check_inputs("ana", "upload_asset", ["0" * 32, {"path": cached}])  # reused by its path
    assert guard.may_read("ana", cached) is True, "still hers to look at"
    guard.uploaded("ana", [cached])  # the same picture uploaded again (gradio reuses the path): one more use
    guard.check_inputs("ana", "upload_asset", ["0" * 32, {"path": cached}])
    with pytest.raises(ValueError):
        guard.check_inputs("ana", "upload_asset", ["0" * 32, {"path": cached}])


@pytest.mark.slow
def test_image_links_a_page_holds_keep_working_after_a_restart(tmp_path):
    data = tmp_path / "data"
    with launched_app(data, "--auth", "ana:pw-ana,ben:pw-ben") as url:
        ana = Client(url, auth=("ana", "pw-ana"), verbose=False, download_files=False)
        gallery, *_ = ana.predict("demo-faces", "auto", "1:1", 1, "a face", False, "", 5, api_name="/generate")
        cached = urls_in(gallery)
        assert cached and Session(url, "ana", "pw-ana").status(cached[0]) == 200
    with launched_app(data, "--auth", "ana:pw-ana,ben:pw-ben") as url:  # a new process: the guard knows nothing
        assert Session(url, "ana", "pw-ana").status(cached[0]) == 200
        assert Session(url, "ben", "pw-ben").status(cached[0]) == 404


def file_url(path: str | Path) -> str:
    return f"/gradio_api/file={path}"


def urls_in(value) -> list[str]:
    """Every file URL in an API result (FileData dicts, galleries, updates)."""
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("url"), str) and "/gradio_api/file=" in value["url"]:
            found.append(value["url"][value["url"].index("/gradio_api/file="):])
        for item in value.values():
            found += urls_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += urls_in(item)
    return found


def assert_only_ana(app, urls: list[str]) -> None:
    assert urls
    for url in urls:
        assert app["ana_http"].status(url) == 200, url
        assert app["ben_http"].status(url) == 404, url


def ana_project_with_upload(app) -> tuple[str, dict]:
    ref = app["root"] / "ref.png"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(ref)
    project = app["ana"].predict(api_name="/list_projects")[0]["id"]
    uploaded, _ = app["ana"].predict(project, handle_file(str(ref)), api_name="/upload_asset")
    return project, uploaded


@pytest.mark.slow
def test_generated_images_are_served_to_their_owner_only(app):
    gallery, job, *_ = app["ana"].predict("demo-faces", "auto", "1:1", 2, "a face", False, "", 5,
                                          api_name="/generate")
    cached = urls_in(gallery)
    assert len(cached) == 2
    assert_only_ana(app, cached)
    on_disk = [file_url(app["data"] / "images" / img["file"]) for img in job["images"]]
    assert_only_ana(app, on_disk)
    details = app["ana"].predict(job["images"][0]["asset_id"], api_name="/asset_details")
    assert_only_ana(app, [details["url"]])
    # Not signed in at all: gradio's own 401.
    assert httpx.get(app["url"].rstrip("/") + cached[0]).status_code == 401


@pytest.mark.slow
def test_uploads_are_served_to_their_owner_only(app):
    _, uploaded = ana_project_with_upload(app)
    details = app["ana"].predict(uploaded["id"], api_name="/asset_details")
    assert_only_ana(app, [details["url"], file_url(app["data"] / "images" / uploaded["file"])])
    # The raw upload in gradio's cache, as the browser sends it before the event runs.
    raw = app["root"] / "raw.png"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(raw)
    with open(raw, "rb") as fh:
        sent = app["ana_http"].http.post("/gradio_api/upload", files={"files": fh})
    assert sent.status_code == 200
    assert_only_ana(app, [file_url(sent.json()[0])])


@pytest.mark.slow
def test_storyboard_exports_are_served_to_their_owner_only_under_unguessable_names(app):
    project, uploaded = ana_project_with_upload(app)
    shot = app["ana"].predict(project, "character", "Mira", "a sailor", api_name="/create_shot")
    app["ana"].predict(shot["id"], uploaded["id"], api_name="/apply_to_shot")
    zip_file, sheet, _ = app["ana"].predict(project, api_name="/export_storyboard")
    assert_only_ana(app, urls_in([zip_file, sheet]))
    exported = sorted((app["data"] / "exports").rglob("*-storyboard.zip"))
    assert exported
    folder = exported[-1].parent
    assert len(folder.name) >= 20, "each export lives in a random folder"
    assert_only_ana(app, [file_url(p) for p in folder.iterdir()])


@pytest.mark.slow
def test_the_style_cards_stay_public(app):
    config = app["ben_http"].http.get("/config").text
    # Wherever the layout puts them (a gallery's FileData or an HTML card), they are file URLs.
    cards = sorted(set(re.findall(r'/gradio_api/file=[^"\s)\'\\]+\.(?:png|jpg|jpeg|webp)', config)))
    assert cards, "the Image Studio shows style preview cards"
    for url in cards[:3]:
        assert app["ana_http"].status(url) == 200 and app["ben_http"].status(url) == 200
    preview = next((REPO / "presets" / "previews").iterdir())
    assert app["ben_http"].status(file_url(preview)) == 200


@pytest.mark.slow
def test_an_upload_given_a_server_path_is_refused_and_changes_nothing(app):
    gallery, job, *_ = app["ana"].predict("demo-faces", "auto", "1:1", 1, "a face", False, "", 9,
                                          api_name="/generate")
    stolen_disk = str(app["data"] / "images" / job["images"][0]["file"])
    stolen_cache = gallery[0]["image"]["path"]
    ben_project = app["ben"].predict(api_name="/list_projects")[0]["id"]
    before = len(app["ben"].predict(ben_project, api_name="/list_assets")["items"])
    files_before = sorted((app["data"] / "images").rglob("*.png"))
    meta = {"_type": "gradio.FileData"}
    for attempt in ({"path": stolen_disk, "meta": meta}, {"path": stolen_disk},
                    {"path": stolen_cache, "meta": meta}, {"path": stolen_cache}, stolen_disk):
        event, message = app["ben_http"].call("upload_asset", ben_project, attempt)
        assert event == "error" and NOT_YOURS in message["error"], (attempt, message)
        assert str(app["data"]) not in message["error"] and "/tmp" not in message["error"]
    # ana's own raw upload, sent by ben, is refused too: only the uploader may use it.
    raw = app["root"] / "mine.png"
    Image.new("RGB", (20, 20), (9, 9, 9)).save(raw)
    with open(raw, "rb") as fh:
        ana_upload = app["ana_http"].http.post("/gradio_api/upload", files={"files": fh}).json()[0]
    event, message = app["ben_http"].call("upload_asset", ben_project, {"path": ana_upload, "meta": meta})
    assert event == "error" and NOT_YOURS in message["error"]
    assert len(app["ben"].predict(ben_project, api_name="/list_assets")["items"]) == before
    assert sorted((app["data"] / "images").rglob("*.png")) == files_before
    # A real upload by ben over the same raw HTTP path works.
    with open(raw, "rb") as fh:
        own = app["ben_http"].http.post("/gradio_api/upload", files={"files": fh}).json()[0]
    event, result = app["ben_http"].call("upload_asset", ben_project, {"path": own, "meta": meta})
    assert event == "complete" and result[0]["owner"] == "ben"
