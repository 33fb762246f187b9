"""Lists that reach the end: a shot's results, the asset library and the credit history
page with the store's cursor past the store's 200-per-page cap, and a refresh keeps what
was loaded. The UI's list functions are called directly on a real Studio (store on disk).
"""

from __future__ import annotations

import pytest

from studio.services.common.paging import LEDGER_LIMIT, MAX_LIMIT
from studio.ui.gen_space import image_handlers as panel
from studio.ui.image_studio.extras import ledger_more, ledger_shown
from tests.gen_space_factory import make_generated
from tests.studio_factory import make_studio

USER = "ana"
PAGE = panel.RESULTS_PAGE
MANY = MAX_LIMIT + 30  # more than one store page can ever hold


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """A studio with MANY images in one shot (its results, and the project's library)."""
    studio = make_studio(tmp_path_factory.mktemp("paged") / "data")
    project = studio.projects.ensure_default(USER)["id"]
    mira = studio.shots.create(USER, project, type="character", name="Mira", description="a sailor")["id"]
    made = [make_generated(studio.store, studio.images, USER, project, mira, seed=i)["id"] for i in range(MANY)]
    studio.shots.add_to_history(USER, mira, made)
    return studio, project, mira, made


def load_all(more, shown):
    clicks = 0
    while shown.has_more:
        shown = more(shown)
        clicks += 1
    return shown, clicks


def test_results_and_library_reach_the_oldest_image(space):
    studio, project, mira, made = space
    first = panel.galleries(studio, USER, project, mira, "project")
    assert len(first.results.items) == len(first.library.items) == PAGE
    assert list(first.results.ids) == made[::-1][:PAGE] == list(first.library.ids)

    results, clicks = load_all(lambda s: panel.more_results(studio, USER, mira, s), first.results)
    assert list(results.ids) == made[::-1] and clicks == -(-MANY // PAGE) - 1
    library, _ = load_all(lambda s: panel.more_library(studio, USER, project, mira, "project", s), first.library)
    assert list(library.ids) == made[::-1]
    assert [path for path, _ in results.items] == [path for path, _ in library.items]


def test_a_refresh_keeps_what_was_loaded_and_shows_new_images_on_top(space, tmp_path):
    studio, project, mira, made = space
    first = panel.galleries(studio, USER, project, mira, "shot")
    results = panel.more_results(studio, USER, mira, panel.more_results(studio, USER, mira, first.results))
    library = panel.more_library(studio, USER, project, mira, "shot", first.library)
    assert (len(results.items), len(library.items)) == (3 * PAGE, 2 * PAGE)

    refreshed = panel.galleries(studio, USER, project, mira, "shot", results, library)
    assert list(refreshed.results.ids) == list(results.ids) and refreshed.results.has_more
    assert list(refreshed.library.ids) == list(library.ids)
    new = make_generated(studio.store, studio.images, USER, project, mira, seed=9999)["id"]
    studio.shots.add_to_history(USER, mira, [new])
    after_job = panel.galleries(studio, USER, project, mira, "shot", results, library)
    # New on top, the loaded ones kept (a refresh may read on to the end of a page: never fewer).
    for now, before in ((after_job.results, results), (after_job.library, library)):
        assert list(now.ids[:len(before.ids) + 1]) == [new, *before.ids]
        assert list(now.ids[1:]) == made[::-1][:len(now.ids) - 1] and now.has_more
    more = panel.more_results(studio, USER, mira, after_job.results)
    assert list(more.ids[1:]) == made[::-1][:len(more.ids) - 1]  # Load more goes on from there

    other = studio.shots.create(USER, project, type="scene", name="Pier", description="")["id"]
    elsewhere = panel.galleries(studio, USER, project, other, "shot", results, library)
    assert elsewhere.results.items == () and not elsewhere.results.has_more  # another shot: its own list
    assert elsewhere.library.items == ()
    by_project = panel.galleries(studio, USER, project, mira, "project", results, library)
    assert len(by_project.library.items) == PAGE  # another filter starts at one page


def test_credit_history_pages_past_the_store_cap_and_refresh_keeps_it(tmp_path):
    studio = make_studio(tmp_path / "data")
    for i in range(MANY):
        studio.credits.adjust(USER, 1, reason=f"gift {i}", admin="boss")
    entries = MANY + 1  # and the starting grant
    first = ledger_shown(studio, USER)
    assert len(first.items) == LEDGER_LIMIT and first.items[0][-1] == f"gift {MANY - 1}"
    everything, clicks = load_all(lambda s: ledger_more(studio, USER, s), first)
    assert len(everything.items) == entries and clicks == -(-entries // LEDGER_LIMIT) - 1
    assert everything.items[-1][1] == "grant"

    studio.credits.adjust(USER, 1, reason="one more", admin="boss")
    refreshed = ledger_shown(studio, USER, everything)  # a job ended while all was loaded
    assert len(refreshed.items) == entries + 1 and refreshed.items[0][-1] == "one more"
    assert refreshed.items[1:] == everything.items and not refreshed.has_more

    two_pages = ledger_more(studio, USER, ledger_shown(studio, USER))
    studio.credits.adjust(USER, 1, reason="and another", admin="boss")
    again = ledger_shown(studio, USER, two_pages)
    assert again.items[0][-1] == "and another" and again.items[1:len(two_pages.items) + 1] == two_pages.items
    rest, _ = load_all(lambda s: ledger_more(studio, USER, s), again)
    assert len(rest.items) == entries + 2 and rest.items[1:] == refreshed.items  # nothing skipped or repeated
