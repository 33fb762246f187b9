"""Text the UI shows, kept apart from the widgets so it can be read and tested plainly."""

from __future__ import annotations

from pipelines.params import MAX_PROMPT_CHARS

ASPECT_CHOICES = [
    ("▬ 16:9 Landscape", "16:9"),
    ("■ 1:1 Square", "1:1"),
    ("▮ 9:16 Portrait", "9:16"),
]
# A Markdown table needs a header row; an empty one drew as a blank bar above the details.
DETAILS_HEADER = "| Detail | Value |\n|---|---|\n"
SPEED_LABEL = {"fast": "fast", "medium": "medium speed", "slow": "slow"}
QUALITY_LABEL = {"draft": "draft", "good": "good", "best": "best"}


def model_label(entry, downloaded: bool) -> str:
    mark = "" if downloaded or entry.traits.built_in else " (downloads on first use)"
    return f"{entry.name} · {entry.credit_cost} cr/img{mark}"


def model_card(entry, downloaded: bool) -> str:
    status = "✓ on this machine" if downloaded else "downloads on first use (needs internet)"
    if entry.traits.built_in:
        status = "✓ built in, works offline"
    lines = [
        f"**{entry.name}** — {entry.description}",
        "",
        f"{SPEED_LABEL[entry.speed]} · quality: {QUALITY_LABEL[entry.quality]} · "
        f"{_credits(entry.credit_cost)} per image · {status}",
    ]
    if entry.specialties:
        lines += ["", "Good at: " + ", ".join(entry.specialties)]
    if entry.ignores_prompt:
        lines.append("")
        lines.append(
            "⚠ **Demo model:** it makes 64×64 faces (shown upscaled) and **ignores the prompt, the style and references**."
        )
    return "\n".join(lines)


def prompt_counter(prompt: str | None) -> str:
    n = len(prompt or "")
    if n > MAX_PROMPT_CHARS:
        return f"<span class='counter over'>{n}/{MAX_PROMPT_CHARS} · {n - MAX_PROMPT_CHARS} over the limit</span>"
    return f"<span class='counter'>{n}/{MAX_PROMPT_CHARS}</span>"


def _credits(n: int) -> str:
    return f"{n} credit{'s' if n != 1 else ''}"


def generate_label(cost: int, action: str = "Generate") -> str:
    return f"{action} · {_credits(cost)}"


def preflight_button(preflight, action: str = "Generate"):
    """A paid button from the service's preflight: its price on the label, enabled only when
    the job can run; and the reason it can't, in words (the API refuses with the same text)."""
    import gradio as gr

    return (gr.update(value=generate_label(preflight.cost, action), interactive=preflight.ok),
            preflight.reason or "")


def balance_text(balance: int) -> str:
    return f"<div class='balance'>Balance: <b>{balance}</b> credits</div>"


def image_caption(details: dict) -> str:
    return f"seed {details['seed']}"  # the model and the rest are in the details beside it


def enhanced_label(enhancer: str) -> str:
    """The enhanced prompt box's label: which enhancer wrote it (and why another stood in)."""
    return f"Enhanced prompt, by {enhancer} (what will be sent)"


def lora_summary(loras: list[dict]) -> str:
    """`ink_style × 0.8, hero × 1`: the LoRAs an image was made with, as the details show them."""
    return ", ".join(f"{r['name']} × {float(r['weight']):g}" for r in loras)


def details_markdown(details: dict | None) -> str:
    if not details:
        return "Select an image to see its details."
    rows = [
        ("Model", f"{details['model_name']} (`{details['model_id']}`)"),
        ("Style", details["style_name"]),
        ("Size", f"{details['width']}×{details['height']} ({details['aspect']})"),
        ("Seed", f"`{details['seed']}`"),
        ("Steps / guidance", f"{details['steps']} / {details['guidance']}"),
        ("Sampler", details["sampler"]),
        *([("LoRAs", lora_summary(details["loras"]))] if details.get("loras") else []),
        *([("Embeddings", ", ".join(r["name"] for r in details["embeddings"]))] if details.get("embeddings") else []),
        *([("Prompt enhanced by", details["enhancer"])] if details.get("enhancer") else []),
        ("Time", f"{details['elapsed_s']:.2f} s for the batch"),
        ("Cost", f"{_credits(details['cost'])} per image"),
        ("Created", details["created"]),
    ]
    body = "\n".join(f"| {k} | {v} |" for k, v in rows)
    prompt = details["prompt"].replace("\n", " ")
    note = "\n\n*The demo model ignored this prompt.*" if details.get("prompt_ignored") else ""
    return f"{DETAILS_HEADER}{body}\n\n**Prompt:** {prompt}{note}"


def ledger_rows(entries: list[dict]) -> list[list]:
    return [
        [e["created"].replace("T", " ")[:19], e["kind"], e["delta"], e["balance_after"], e.get("reason", "")]
        for e in entries
    ]


LEDGER_HEADERS = ["When (UTC)", "Kind", "Change", "Balance", "What"]
