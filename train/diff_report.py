"""Reports of a diff: the terminal summary of each step (label-level changes first, then the
clauses whose flags appeared or disappeared) and the side-by-side HTML page, with word-level
changes marked."""

from __future__ import annotations

import difflib
from datetime import datetime, timezone

from train.pages import render_page
from train.predict_report import REPORT_CSS


def _shorten(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def format_step(step: dict) -> str:
    """Terminal summary of one diff: the label-level changes first, then the clause flips."""
    c = step["counts"]
    lines = [
        f"{step.get('old', 'old')} -> {step.get('new', 'new')}: {step['old_clauses']} -> "
        f"{step['new_clauses']} clauses; {c['unchanged']} unchanged, {c['moved']} moved, "
        f"{c['modified']} modified, {c['added']} added, {c['removed']} removed"
    ]
    for change in step.get("label_changes", []):
        if change["change"] == "unchanged":
            continue
        lines.append(
            f"  {change['label']}: {change['change'].upper()} "
            f"({change['old_flagged']} -> {change['new_flagged']} flagged clauses)"
        )
    for item in step["newly_flagged"]:
        scores = ", ".join(f"{n} {item['scores'][n]:.2f}" for n in item["new_labels"])
        lines.append(f'  + NEWLY FLAGGED {scores} ({item["change"]}): "{_shorten(item["text"])}"')
    for item in step["no_longer_flagged"]:
        scores = ", ".join(f"{n} was {item['scores'][n]:.2f}" for n in item["lost_labels"])
        lines.append(
            f'  - no longer flagged {scores} ({item["change"]}): "{_shorten(item["text"])}"'
        )
    for item in step.get("reworded_flags", []):
        lines.append(
            f"  ~ still flagged {item['label']} {item['score']:.2f}, in other words "
            f'(cosine {item["cosine"]:.2f}): "{_shorten(item["text"])}"'
        )
    if not step["newly_flagged"] and not step["no_longer_flagged"]:
        lines.append("  no flag appeared or disappeared")
    return "\n".join(lines)


def word_diff(old: str, new: str):
    """Old and new text as HTML, deleted words in <del> and inserted words in <ins>."""
    from markupsafe import Markup, escape

    a, b = old.split(), new.split()
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_words, new_words = escape(" ".join(a[i1:i2])), escape(" ".join(b[j1:j2]))
        if op == "equal":
            left.append(old_words)
            right.append(new_words)
            continue
        if i2 > i1:
            left.append(Markup("<del>{}</del>").format(old_words))
        if j2 > j1:
            right.append(Markup("<ins>{}</ins>").format(new_words))
    return Markup(" ").join(left), Markup(" ").join(right)


def render_html(steps: list[dict], model: str = "") -> str:
    """A side-by-side page of the changed clauses of each step, with their flags."""
    views = []
    for step in steps:
        rows = []
        for ch in step["changes"]:
            old, new = ch["old"] or {}, ch["new"] or {}
            if ch["change"] == "modified":
                old_html, new_html = word_diff(old["text"], new["text"])
            else:
                old_html, new_html = old.get("text", ""), new.get("text", "")
            old_labels, new_labels = old.get("labels", []), new.get("labels", [])
            rows.append(
                {
                    "change": ch["change"],
                    "similarity": ch["similarity"],
                    "old_html": old_html,
                    "new_html": new_html,
                    "old_labels": old_labels,
                    "new_labels": new_labels,
                    "appeared": [n for n in new_labels if n not in old_labels]
                    if ch["change"] != "moved"
                    else [],
                    "lost": [n for n in old_labels if n not in new_labels]
                    if ch["new"]
                    else old_labels,
                }
            )
        views.append(
            {
                **step,
                "rows": rows,
                "old_date": step.get("old_date"),
                "new_date": step.get("new_date"),
            }
        )
    return render_page(
        "diff.html.j2",
        css=REPORT_CSS,
        steps=views,
        model=model,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
