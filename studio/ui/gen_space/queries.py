"""What the Gen Space panels read, asked once per refresh and shared by every panel.

Each method turns service records into widget values; the panels' callbacks call
these instead of repeating the same look-ups (and the same id-to-name mapping).
"""

from __future__ import annotations

from studio.services.common.paging import DEFAULT_LIMIT, Page, check_limit, decode_cursor, encode_cursor
from studio.services.studio import Studio
from studio.ui.gen_space import view
from studio.ui.shared.downloads import named_copy

LIBRARY_PAGE = DEFAULT_LIMIT  # results and library images per page ("Load more" adds one)
RESULTS_LIST = "shot-results"  # ties a results cursor to this list
LIBRARY_LIST = "assets"  # the cursor name of AssetService.page (a refresh reads down to a cursor)


class SpaceQueries:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def project(self, user: str, project_id: str | None) -> str:
        """The open project, or the user's default one on first use."""
        if project_id:
            return project_id
        return self.studio.projects.ensure_default(user)["id"]

    def project_choices(self, user: str) -> list[tuple[str, str]]:
        return [(p["name"], p["id"]) for p in self.studio.projects.list(user)]

    def navigator(self, user: str, project_id: str, filter_value: str | None):
        shots = self.studio.shots.list(user, project_id, None if filter_value in (None, "all") else filter_value)
        return view.shot_cards(self.studio, user, shots), [s["id"] for s in shots]

    def references(self, user: str, project_id: str):
        ids = self.studio.assets.references(user, project_id)
        found = self.studio.assets.get_many(user, ids)
        items, shown = view.asset_items(self.studio, [found[a] for a in ids if a in found])
        return [path for path, _ in items], shown  # thumbnails too small for a caption

    def results_page(self, user: str, shot_id: str | None, limit: int = LIBRARY_PAGE,
                     cursor: str | None = None) -> Page:
        """One page of the shot's results, newest first (only that page's records are read).

        A shot's results are its `history` (ids, newest last); the cursor is a position in
        that list counted from the oldest, so results added while someone scrolls land
        before the first page and never shift the later ones."""
        if not shot_id:
            return Page(items=[], next_cursor=None)
        history = self.studio.shots.get(user, shot_id).get("history", [])
        end = decode_cursor(cursor, RESULTS_LIST)
        end = len(history) if end is None else min(end, len(history))
        start = max(0, end - check_limit(limit))
        newest = list(reversed(history[start:end]))
        found = self.studio.assets.get_many(user, newest)
        return Page(items=[found[a] for a in newest if a in found],
                    next_cursor=encode_cursor(RESULTS_LIST, start) if start > 0 else None)

    def library_page(self, user: str, project_id: str, shot_id: str | None, how: str, limit: int = LIBRARY_PAGE,
                     cursor: str | None = None) -> Page:
        """One page of the library for the filter, newest first, from the store's cursor."""
        if how == "shot" and not shot_id:
            return Page(items=[], next_cursor=None)
        narrow = {"shot": {"shot_id": shot_id}, "upload": {"kind": "upload"}}.get(how, {})
        if how in ("character", "scene", "prop"):
            narrow = {"shot_type": how}
        return self.studio.assets.page(user, project_id=project_id, limit=limit, cursor=cursor, **narrow)

    def gallery_items(self, assets: list) -> tuple[list, list]:
        """(path, caption) items and their asset ids, for the results and the library."""
        return view.asset_items(self.studio, assets)

    def names(self, user: str, details: dict) -> dict:
        """Names for the ids an image's record points at (shot, project, references, source)."""
        studio = self.studio
        names: dict = {}
        project_id = details.get("project_id")
        if project_id:
            projects = {p["id"]: p["name"] for p in studio.projects.list(user)}
            names.update(projects)
            shots = {s["id"]: s["name"] for s in studio.shots.list(user, project_id)} if project_id in projects else {}
            names.update(shots)
        else:
            shots = {}
        linked = [*(details.get("reference_ids") or []), details.get("parent_id")]
        for asset_id, asset in studio.assets.get_many(user, [a for a in linked if a]).items():
            names[asset_id] = view.asset_name(asset, shots)
        return names

    def picked(self, user: str, asset_id: str):
        """(details, markdown, download copy) for the picked image."""
        details = self.studio.assets.details(user, asset_id)
        names = self.names(user, details)
        return details, view.asset_details_markdown(details, names), self.download_copy(user, details, names)

    def download_copy(self, user: str, details: dict, names: dict) -> str:
        """A copy named for people (`harbour-tale_mira_seed1234.png`): the browser saves a
        served file under its own name, and the library's files are named by id."""
        name = view.download_name(names.get(details.get("project_id")), names.get(details.get("shot_id")),
                                  details.get("seed"), details.get("kind"), edited=_edited(details),
                                  asset_id=details.get("id"))
        return named_copy(self.studio.exports_dir, user, details["id"], details["path"], name)


def _edited(details: dict) -> str | None:
    """The edit that made this image from another ("rotate", "crop", "edited"), or None."""
    if not details.get("parent_id") and details.get("kind") != "edit":
        return None
    return (details.get("edit") or {}).get("op") or "edited"
