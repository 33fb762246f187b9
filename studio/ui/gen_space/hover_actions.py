""""Use as reference" and "Apply to shot" on the image under the pointer (or the finger).

The product document says hovering a result reveals these two actions; the side panel
keeps the full menu, but on a phone it sits far below the results. Gradio's Gallery has
no per-item buttons, so each gallery gets one small toolbar of real Gradio buttons that a
page script (HOVER_JS) places over the hovered or tapped thumbnail. The script also
remembers that thumbnail's position; a button's `js` hands it to the callback as the
hidden `index` input, and the callback reads the asset id from what the gallery holds
(`Loaded.ids`), so the action always lands on the image the person pointed at. The
action also picks that image, so the side panel, the highlight and the action agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from studio.ui.gen_space import image_handlers as handlers
from studio.ui.gen_space import selection
from studio.ui.gen_space.image_handlers import NO_IMAGE
from studio.ui.shared.common import guard
from studio.ui.shared.events import UI, need
from studio.ui.shared.paged import NOTHING
from studio.ui.shared.session import user_of

HOVERED_GALLERIES = ("gs-results", "gs-library")

# Shows `#<gallery>-hover` over the thumbnail under the pointer (mouseover) or the finger
# (pointerdown), hides it when the pointer goes elsewhere, and answers
# `window.studioHoverIndex(galleryId)`: that thumbnail's position in its gallery.
HOVER_JS = """
() => {
  const galleries = %s, hovered = {}, thumbs = {};
  window.studioHoverIndex = (id) => (id in hovered ? hovered[id] : null);
  const place = (id) => {
    const bar = document.getElementById(id + '-hover'), thumb = thumbs[id];
    if (!bar || !thumb || !thumb.isConnected) return;
    const parent = bar.offsetParent || document.body;
    const t = thumb.getBoundingClientRect(), p = parent.getBoundingClientRect();
    bar.style.left = (t.left - p.left + parent.scrollLeft + 4) + 'px';
    bar.style.width = (t.width - 8) + 'px';
    bar.style.top = (t.top - p.top + parent.scrollTop + 4) + 'px';  // its top edge: the middle stays clickable
  };
  const show = (id, thumb) => {
    const bar = document.getElementById(id + '-hover');
    const index = [...document.querySelectorAll('#' + id + ' .thumbnail-item')].indexOf(thumb);
    if (!bar || index < 0) return;
    hovered[id] = index;
    thumbs[id] = thumb;
    bar.dataset.show = '1';  // not a class: Svelte rewrites the row's class attribute
    place(id);
  };
  // A mouse shows the toolbar on hover and hides it when it leaves; a finger shows it on a
  // tap and hides it on a tap elsewhere (after a tap the browser sends stray mouseovers).
  const follow = (e) => {
    if (e.type === 'pointerover' && e.pointerType !== 'mouse') return;
    const target = e.target && e.target.closest ? e.target : null;
    if (!target) return;
    for (const id of galleries) {
      if (target.closest('#' + id + '-hover')) return;  // on the toolbar: keep it
      const thumb = target.closest('#' + id + ' .thumbnail-item');
      if (thumb) { show(id, thumb); continue; }
      const bar = document.getElementById(id + '-hover');
      if (bar) delete bar.dataset.show;
    }
  };
  document.addEventListener('pointerover', follow, true);
  document.addEventListener('pointerdown', follow, true);
  new ResizeObserver(() => galleries.forEach(place)).observe(document.body);
}
""" % list(HOVERED_GALLERIES)


@dataclass
class HoverActions:
    """One gallery's toolbar: the hovered thumbnail's position and the two actions."""

    gallery_id: str
    index: gr.Number
    use_ref: gr.Button
    apply: gr.Button


def layout_hover_actions(gallery_id: str) -> HoverActions:
    """The toolbar for `gallery_id`, laid out right after it (hidden until a hover)."""
    with gr.Row(elem_id=f"{gallery_id}-hover", elem_classes=["hover-actions"]):
        use_ref = gr.Button("Use as reference", size="sm", min_width=0, elem_id=f"{gallery_id}-hover-ref")
        apply = gr.Button("Apply to shot", size="sm", variant="primary", min_width=0,
                          elem_id=f"{gallery_id}-hover-apply")
    index = gr.Number(visible=False, precision=0)
    return HoverActions(gallery_id, index, use_ref, apply)


def _hovered(shown, index) -> str:
    """The asset id at the hovered position of what the gallery holds."""
    ids = (shown or NOTHING).ids
    if index is None or not 0 <= int(index) < len(ids):
        need(None, NO_IMAGE)
    return ids[int(index)]


def wire_hover_actions(studio, hover: HoverActions, gallery: gr.Gallery, shown: gr.State, *, project, shot_id,
                       shot_filter, nav_outs: list, ref_outs: list, picked_outs: list, to_widgets) -> None:
    """`to_widgets` turns a PickedImage into `picked_outs`' values (panels._picked)."""
    # The hovered position replaces the hidden input's value on its way to the server.
    take_index = f"(index, ...rest) => [window.studioHoverIndex('{hover.gallery_id}'), ...rest]"
    name = hover.gallery_id.replace("gs-", "").replace("-", "_")

    @guard
    def use_as_reference(index, project_id, held, request: gr.Request):
        user, asset_id = user_of(request), _hovered(held, index)
        strip = handlers.use_as_reference(studio, user, project_id, asset_id)
        return (strip.paths, strip.ids, *to_widgets(handlers.picked(studio, user, asset_id)),
                selection.highlight_only(held.ids, asset_id))

    @guard
    def apply_to_shot(index, project_id, sid, held, filter_value, request: gr.Request):
        user, asset_id = user_of(request), _hovered(held, index)
        shot = handlers.apply_to_shot(studio, user, project_id, sid, asset_id, filter_value)
        return (selection.highlighted(shot.cards, shot.ids, sid), shot.ids, shot.header,
                *to_widgets(handlers.picked(studio, user, asset_id)), selection.highlight_only(held.ids, asset_id))

    hover.use_ref.click(use_as_reference, [hover.index, project, shown], [*ref_outs, *picked_outs, gallery],
                        js=take_index, api_name=f"ui_hover_use_as_reference_{name}", **UI)
    hover.apply.click(apply_to_shot, [hover.index, project, shot_id, shown, shot_filter],
                      [*nav_outs, *picked_outs, gallery], js=take_index, api_name=f"ui_hover_apply_to_shot_{name}",
                      **UI)
