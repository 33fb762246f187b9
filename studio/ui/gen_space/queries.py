"""What the Gen Space panels read, asked once per refresh and shared by every panel.

Each method turns service records into widget values; the panels' callbacks call
these instead of repeating the same look-ups (and the same id-to-name mapping).
"""

from __future__ import annotations

from studio.services.common.paging import DEFAULT_LIMIT, MAX_LIMIT
from studio.services.studio import Studio
from studio.ui.gen_space import view
from studio.ui.shared.downloads import named_copy

LIBRARY_PAGE = DEFAULT_LIMIT  # library images shown before "Load more"


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

    def results(self, user: str, shot_id: str | None, limit: int = LIBRARY_PAGE):
        """The shot's newest `limit` results (only those records are read), and whether
        there are more."""
        if not shot_id:
            return [], [], False
        history = self.studio.shots.get(user, shot_id).get("history", [])
        limit = min(limit, MAX_LIMIT)
        newest = list(reversed(history[-limit:]))
        found = self.studio.assets.get_many(user, newest)
        items, ids = view.asset_items(self.studio, [found[a] for a in newest if a in found])
        return items, ids, len(history) > limit and limit < MAX_LIMIT

    def library(self, user: str, project_id: str, shot_id: str | None, how: str, limit: int):
        """The newest `limit` library images for the filter (one page from the store, never
        the whole library), and whether there are more."""
        if how == "shot" and not shot_id:
            return [], [], False
        narrow = {"shot": {"shot_id": shot_id}, "upload": {"kind": "upload"}}.get(how, {})
        if how in ("character", "scene", "prop"):
            narrow = {"shot_type": how}
        page = self.studio.assets.page(user, project_id=project_id, limit=min(limit, MAX_LIMIT), **narrow)
        items, ids = view.asset_items(self.studio, page.items)
        return items, ids, page.has_more and limit < MAX_LIMIT

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
                                  details.get("seed"), details.get("kind"))
        return named_copy(self.studio.exports_dir, user, details["id"], details["path"], name)
