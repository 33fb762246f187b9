"""Paging a 10,000-image library through the launched app's API while new images arrive
from another process: every image exactly once, newest first, nothing skipped."""

from __future__ import annotations

import threading
import uuid

import pytest
from gradio_client import Client

from studio.store import open_store
from studio.ui.shared.session import LOCAL_USER
from tests.benchmarks.bench_store import _asset
from tests.launched_app import launched_app

pytestmark = pytest.mark.slow
LIBRARY = 10_000


def test_paging_10000_images_while_new_ones_arrive_has_no_duplicates_or_gaps(tmp_path):
    data = tmp_path / "data"
    store = open_store(data)
    with store.transaction() as tx:
        existing = [tx.insert("assets", _asset(LOCAL_USER, uuid.uuid4().hex, i, None, None))["id"]
                    for i in range(LIBRARY)]
    store.insert("assets", _asset("someone-else", uuid.uuid4().hex, 0, None, None))
    store.close()

    with launched_app(data) as url:
        client = Client(url, verbose=False)
        arrived: list[str] = []
        stop = threading.Event()

        def new_images() -> None:  # another process's store, writing while the user scrolls
            writer = open_store(data)
            while not stop.is_set() and len(arrived) < 400:
                arrived.append(writer.insert("assets", _asset(LOCAL_USER, uuid.uuid4().hex, 0, None, None))["id"])

        first = client.predict("", "", "", "", 200, "", api_name="/list_assets")
        thread = threading.Thread(target=new_images)
        thread.start()
        try:
            seen = [a["id"] for a in first["items"]]
            page = first
            while page["has_more"]:
                page = client.predict("", "", "", "", 200, page["next_cursor"], api_name="/list_assets")
                assert len(page["items"]) <= 200
                seen += [a["id"] for a in page["items"]]
        finally:
            stop.set()
            thread.join(30)
        assert arrived, "no image arrived while paging"
        assert len(seen) == len(set(seen)) == LIBRARY  # no duplicates, and the new ones did not push anything out
        assert seen == existing[::-1]  # every image, newest first, nothing skipped
        assert page["next_cursor"] is None

        fresh = client.predict("", "", "", "", 24, "", api_name="/list_assets")
        assert [a["id"] for a in fresh["items"]] == arrived[::-1][:24] and fresh["has_more"] is True
        with pytest.raises(Exception, match="cursor is not valid"):
            client.predict("", "", "", "", 24, "not-a-cursor", api_name="/list_assets")
        history = client.predict(5, "", api_name="/history")
        assert set(history) == {"items", "next_cursor", "has_more"} and len(history["items"]) == 5
        ledger = client.predict(50, "", api_name="/ledger")
        assert ledger["items"][0]["kind"] == "grant" and ledger["has_more"] is False
