"""The one rule for what Gen Space highlights: it is derived from the selected id.

Gradio's Gallery keeps its own `selected_index` and, when its items change, only
clamps it to the new length: after "Move up" the highlight stayed on the old
position, a new shot was not highlighted, and after a delete or an edit another
card or image stayed highlighted. So every callback that shows a list (the shot
cards, the results, the library) also sends the highlight, computed here from the
id the page holds as selected (`nav.shot_id`, `panel.selected`), never from an
index the browser kept. No id, or an id not in the list: nothing is highlighted.
"""

from __future__ import annotations

import gradio as gr


def index_of(ids, selected_id) -> int | None:
    """Where `selected_id` sits in `ids`, or None when it is not shown."""
    if not selected_id:
        return None
    ids = list(ids or [])
    return ids.index(selected_id) if selected_id in ids else None


def highlighted(items: list, ids, selected_id):
    """A gallery update: these items, with the selected one (if shown) highlighted.

    A Gallery, not gr.update: Gradio strips None from a gr.update, so "highlight
    nothing" would never reach the page; a component's own arguments keep it."""
    return gr.Gallery(value=list(items), selected_index=index_of(ids, selected_id))


def highlight_only(ids, selected_id):
    """The highlight moved, the items did not (e.g. a hover action picked another image)."""
    return gr.Gallery(selected_index=index_of(ids, selected_id))
