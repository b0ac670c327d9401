"""What changed between two versions of a policy, and which flags appeared or disappeared.

Both versions are segmented into clauses (`train.segment`) and aligned:

- **unchanged**: equal after normalisation (`train.textnorm.normalize_text`: case, whitespace and
  punctuation do not count) and in the same relative order, i.e. inside the matching blocks that
  `difflib.SequenceMatcher` finds over the two sequences of normalised clauses;
- **moved**: equal after normalisation but outside those blocks (the order changed);
- **modified**: the remaining clauses paired one-to-one, most similar first, when their word-level
  similarity (`SequenceMatcher.ratio` over words) reaches `min_similarity`;
- **added** / **removed**: what is left in the new / old version.

Only the clauses whose text changed are scored: added and modified ones in the new version,
removed and modified ones in the old. `newly_flagged` lists the new clauses that carry a label
their old counterpart did not (for an added clause, every label it carries); `no_longer_flagged`
lists the reverse. `--fail-on LABEL` makes the command exit with status 1 when a clause newly
flagged with LABEL appears, so a scheduled job can watch a policy.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import re
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from train.batch import (
    DOCUMENT_FORMATS,
    REPORT_CSS,
    RunError,
    SkipDocument,
    configure_logging,
    load_predictor,
    max_chars_for,
    read_document,
)
from train.textnorm import normalize_text

logger = logging.getLogger("clausewatch.diff")

CHANGE_KINDS = ("unchanged", "moved", "modified", "added", "removed")
DEFAULT_MIN_SIMILARITY = 0.6
# A date in a version's file name: 2023-03-01, 2023_03_01 or 20230301 (first one wins).
_DATE = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")


@dataclass(frozen=True)
class Alignment:
    """One aligned clause: indices into the old and new clause lists (None on the missing side)."""

    change: str
    old: int | None
    new: int | None
    similarity: float = 1.0


def _word_similarity(matcher: difflib.SequenceMatcher, threshold: float) -> float:
    # The cheap upper bounds reject most pairs before the quadratic `ratio`.
    if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
        return 0.0
    return matcher.ratio()


def align_clauses(
    old: Sequence[str], new: Sequence[str], min_similarity: float = DEFAULT_MIN_SIMILARITY
) -> list[Alignment]:
    """Align two versions' clause texts; returns every clause of both, in reading order (new
    version order, removed clauses after their preceding old neighbour)."""
    norm_old = [normalize_text(t) for t in old]
    norm_new = [normalize_text(t) for t in new]
    pairs: list[Alignment] = []
    old_used: set[int] = set()
    new_used: set[int] = set()

    # unchanged: the blocks of a longest-common-subsequence-style match, order preserved
    matcher = difflib.SequenceMatcher(None, norm_old, norm_new, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs.append(Alignment("unchanged", block.a + k, block.b + k))
            old_used.add(block.a + k)
            new_used.add(block.b + k)

    # moved: the same text outside those blocks
    waiting: dict[str, deque[int]] = {}
    for i, norm in enumerate(norm_old):
        if i not in old_used:
            waiting.setdefault(norm, deque()).append(i)
    for j, norm in enumerate(norm_new):
        if j not in new_used and waiting.get(norm):
            i = waiting[norm].popleft()
            pairs.append(Alignment("moved", i, j))
            old_used.add(i)
            new_used.add(j)

    # modified: similar enough, greedy best-first, one-to-one; ties go to the closer position
    left_old = [i for i in range(len(old)) if i not in old_used]
    left_new = [j for j in range(len(new)) if j not in new_used]
    words_old = {i: norm_old[i].split() for i in left_old}
    candidates = []
    word_matcher = difflib.SequenceMatcher(None, autojunk=False)
    for j in left_new:
        word_matcher.set_seq2(norm_new[j].split())
        for i in left_old:
            word_matcher.set_seq1(words_old[i])
            ratio = _word_similarity(word_matcher, min_similarity)
            if ratio >= min_similarity:
                distance = abs(i / max(1, len(old)) - j / max(1, len(new)))
                candidates.append((-ratio, distance, i, j))
    for neg_ratio, _, i, j in sorted(candidates):
        if i not in old_used and j not in new_used:
            pairs.append(Alignment("modified", i, j, round(-neg_ratio, 4)))
            old_used.add(i)
            new_used.add(j)

    pairs += [Alignment("added", None, j, 0.0) for j in range(len(new)) if j not in new_used]
    pairs += [Alignment("removed", i, None, 0.0) for i in range(len(old)) if i not in old_used]
    return _reading_order(pairs)


def _reading_order(pairs: list[Alignment]) -> list[Alignment]:
    """Sort by position in the new version; a removed clause goes right after the new position
    of the old clause before it."""
    new_of_old = {p.old: p.new for p in pairs if p.old is not None and p.new is not None}

    def key(p: Alignment) -> tuple:
        if p.new is not None:
            return (p.new, 0, 0)
        anchor = max((i for i in new_of_old if i < p.old), default=None)
        return (-1 if anchor is None else new_of_old[anchor], 1, p.old)

    return sorted(pairs, key=key)


class CachedScorer:
    """Scores and flags texts with a predictor, each text once: in a version history the same
    changed clause is seen by two steps."""

    def __init__(self, predictor) -> None:
        self.predictor = predictor
        self.labels = list(predictor.labels)
        self.cache: dict[str, tuple[dict[str, float], list[str]]] = {}

    def score(self, texts: Sequence[str]) -> list[tuple[dict[str, float], list[str]]]:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            probs = np.asarray(self.predictor.predict_proba(todo))
            flags = np.asarray(self.predictor.flag(probs))
            for text, p, f in zip(todo, probs, flags, strict=True):
                scores = {n: round(float(v), 6) for n, v in zip(self.labels, p, strict=True)}
                self.cache[text] = (scores, [n for n, on in zip(self.labels, f, strict=True) if on])
        return [self.cache[t] for t in texts]


def _max_chars(predictor) -> int:
    max_length = getattr(getattr(predictor, "meta", None), "max_length", None)
    return max_chars_for(max_length) if max_length else 1000


# Keys under which a changed clause's counterpart on the other side is reported.
_OLD_KEYS = ("old_text", "old_labels", "old_start", "old_end")
_NEW_KEYS = ("new_text", "new_text_labels", "new_start", "new_end")


def _label_change(a, side: dict, other: dict | None, delta_key: str, other_keys) -> dict | None:
    """The labels `side` has that `other` (its counterpart on the other version) lacks, as a
    report item, or None when there are none."""
    before = set(other["labels"]) if other else set()
    delta = [n for n in side["labels"] if n not in before]
    if not delta:
        return None
    item = {
        "change": a.change,
        "text": side["text"],
        "labels": side["labels"],
        delta_key: delta,
        "scores": side["scores"],
        "start": side["start"],
        "end": side["end"],
    }
    if other:
        text_key, labels_key, start_key, end_key = other_keys
        item.update(
            {
                text_key: other["text"],
                labels_key: other["labels"],
                start_key: other["start"],
                end_key: other["end"],
                "similarity": a.similarity,
            }
        )
    return item


def diff_documents(
    predictor,
    old_text: str,
    new_text: str,
    fmt: str = "txt",
    new_fmt: str | None = None,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    *,
    scorer: CachedScorer | None = None,
) -> dict:
    """Align, score and compare two versions of a document (`fmt`: txt, md or html; `new_fmt`
    when the new version has another format). Returns a JSON-ready dict:

    - `counts`: clauses per change kind; `old_clauses`, `new_clauses`;
    - `changes`: every clause that is not unchanged, with its `change`, `similarity`, and `old` /
      `new` sides (`start`, `end`, `text`, plus `labels` and `scores` where scored);
    - `newly_flagged`: added or modified new clauses with a label their old counterpart lacks:
      `text`, `labels` (every label the new clause carries), `new_labels` (those that appeared),
      `scores`, `change`, `start`, `end`, and for modified clauses `old_text`, `old_labels`,
      `old_start`, `old_end`, `similarity`;
    - `no_longer_flagged`: removed or modified old clauses with a label the new one lacks:
      `text`, `labels` (every label the old clause carried), `lost_labels`, `scores`, `change`,
      `start`, `end` (in the old version), and for modified clauses `new_text`, `new_text_labels`,
      `new_start`, `new_end`, `similarity`.

    Offsets index the prepared text of each version (`train.segment.prepare_text`).
    """
    from train.segment import segment_document

    scorer = scorer or CachedScorer(predictor)
    max_chars = _max_chars(predictor)
    # Offsets index each version's prepared text (for HTML: its visible text, see train.segment).
    _, old_clauses = segment_document(old_text, fmt, max_chars=max_chars)
    _, new_clauses = segment_document(new_text, new_fmt or fmt, max_chars=max_chars)
    alignment = align_clauses(
        [c.text for c in old_clauses], [c.text for c in new_clauses], min_similarity
    )

    score_old = sorted({a.old for a in alignment if a.change in ("removed", "modified")})
    score_new = sorted({a.new for a in alignment if a.change in ("added", "modified")})
    results = scorer.score(
        [old_clauses[i].text for i in score_old] + [new_clauses[j].text for j in score_new]
    )
    old_scored = dict(zip(score_old, results[: len(score_old)], strict=True))
    new_scored = dict(zip(score_new, results[len(score_old) :], strict=True))

    def side(clauses, index, scored) -> dict | None:
        if index is None:
            return None
        c = clauses[index]
        out = {"index": index, "start": c.start, "end": c.end, "text": c.text}
        if index in scored:
            out["scores"], out["labels"] = scored[index]
        return out

    changes, newly, lost = [], [], []
    for a in alignment:
        if a.change == "unchanged":
            continue
        old_side = side(old_clauses, a.old, old_scored)
        new_side = side(new_clauses, a.new, new_scored)
        changes.append(
            {"change": a.change, "similarity": a.similarity, "old": old_side, "new": new_side}
        )
        if a.change in ("added", "modified"):
            item = _label_change(a, new_side, old_side, "new_labels", _OLD_KEYS)
            if item:
                newly.append(item)
        if a.change in ("removed", "modified"):
            item = _label_change(a, old_side, new_side, "lost_labels", _NEW_KEYS)
            if item:
                lost.append(item)
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    for a in alignment:
        counts[a.change] += 1
    return {
        "labels": scorer.labels,
        "old_clauses": len(old_clauses),
        "new_clauses": len(new_clauses),
        "counts": counts,
        "newly_flagged": newly,
        "no_longer_flagged": lost,
        "changes": changes,
    }


# ---------------------------------------------------------------------------------------------
# Files and version histories
# ---------------------------------------------------------------------------------------------


def _format_of(path: Path) -> str:
    fmt = DOCUMENT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SkipDocument(
            f"unsupported file type {path.suffix!r} (use {', '.join(sorted(DOCUMENT_FORMATS))})"
        )
    return fmt


def read_version(path: str | Path) -> tuple[str, str]:
    """(raw text, format) of one version. An empty file is a valid (empty) version; a binary,
    unreadable or unsupported file raises `SkipDocument`."""
    path = Path(path)
    fmt = _format_of(path)
    if not path.is_file():
        raise SkipDocument("no such file")
    try:
        decoded = read_document(path)
    except SkipDocument as err:
        if str(err).startswith("empty"):
            logger.warning("%s: empty, compared as a version with no clauses", path)
            return "", fmt
        raise
    if decoded.warning:
        logger.warning("%s: %s", path, decoded.warning)
    return decoded.text, fmt


def diff_files(
    predictor,
    old_path: str | Path,
    new_path: str | Path,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    *,
    scorer: CachedScorer | None = None,
) -> dict:
    """`diff_documents` over two files (format from the suffix: .txt, .md, .html)."""
    old_raw, old_fmt = read_version(old_path)
    new_raw, new_fmt = read_version(new_path)
    result = diff_documents(
        predictor, old_raw, new_raw, old_fmt, new_fmt, min_similarity, scorer=scorer
    )
    return {"old": str(old_path), "new": str(new_path), **result}


def version_date(name: str) -> date | None:
    """The date in a version's file name (`2023-03-01-zoom.md`, `zoom_20230301.html`), if any."""
    for m in _DATE.finditer(name):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return None


def list_versions(folder: str | Path) -> list[tuple[date, Path]]:
    """Dated document files of a folder, oldest first (same date: by name)."""
    versions = []
    for path in sorted(Path(folder).iterdir()):
        if (
            not path.is_file()
            or path.name.startswith(".")
            or path.suffix.lower() not in DOCUMENT_FORMATS
        ):
            continue
        when = version_date(path.name)
        if when is None:
            logger.warning(
                "%s: no date (YYYY-MM-DD) in the file name; left out of the history", path
            )
            continue
        versions.append((when, path))
    return sorted(versions, key=lambda v: (v[0], v[1].name))


def diff_history(
    predictor, folder: str | Path, min_similarity: float = DEFAULT_MIN_SIMILARITY
) -> dict:
    """Diff each consecutive pair of a folder of versions named by date; a version that cannot be
    read is left out (with a warning) and the next step compares across it."""
    scorer = CachedScorer(predictor)
    versions, skipped = [], []
    for when, path in list_versions(folder):
        try:
            read_version(path)
        except SkipDocument as err:
            logger.warning("%s: %s; left out of the history", path, err)
            skipped.append({"path": str(path), "reason": str(err)})
            continue
        versions.append((when, path))
    if len(versions) < 2:
        raise RunError(
            f"{folder}: needs at least two readable versions with a date in the file name, found {len(versions)}"
        )
    steps = []
    for (old_date, old_path), (new_date, new_path) in zip(versions, versions[1:], strict=False):
        step = diff_files(predictor, old_path, new_path, min_similarity, scorer=scorer)
        steps.append({"old_date": old_date.isoformat(), "new_date": new_date.isoformat(), **step})
    return {
        "folder": str(folder),
        "versions": [{"date": d.isoformat(), "path": str(p)} for d, p in versions],
        "skipped": skipped,
        "steps": steps,
    }


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------


def _shorten(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def format_step(step: dict) -> str:
    """Terminal summary of one diff."""
    c = step["counts"]
    lines = [
        f"{step.get('old', 'old')} -> {step.get('new', 'new')}: {step['old_clauses']} -> "
        f"{step['new_clauses']} clauses; {c['unchanged']} unchanged, {c['moved']} moved, "
        f"{c['modified']} modified, {c['added']} added, {c['removed']} removed"
    ]
    for item in step["newly_flagged"]:
        scores = ", ".join(f"{n} {item['scores'][n]:.2f}" for n in item["new_labels"])
        lines.append(f'  + NEWLY FLAGGED {scores} ({item["change"]}): "{_shorten(item["text"])}"')
    for item in step["no_longer_flagged"]:
        scores = ", ".join(f"{n} was {item['scores'][n]:.2f}" for n in item["lost_labels"])
        lines.append(
            f'  - no longer flagged {scores} ({item["change"]}): "{_shorten(item["text"])}"'
        )
    if not step["newly_flagged"] and not step["no_longer_flagged"]:
        lines.append("  no flag appeared or disappeared")
    return "\n".join(lines)


def _word_diff(old: str, new: str):
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


_DIFF_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ClauseWatch diff</title>
<style>{{ css }}
table.diff{width:100%;table-layout:fixed} table.diff td{vertical-align:top}
tr.added td.new,tr.modified td.new{background:#f3fbf3} tr.removed td.old,tr.modified td.old{background:#fdf3f3}
del{background:#fbd5d5;text-decoration:line-through} ins{background:#c9f0c9;text-decoration:none}
.chip.appeared{outline:2px solid #c00} .chip.lost{text-decoration:line-through;opacity:.7}
td.kind{width:6rem;color:#555}
</style></head><body>
<h1>ClauseWatch diff</h1>
<p class="meta">Model {{ model }} &middot; generated {{ generated }}</p>
{% for s in steps %}<section class="doc">
<h2>{{ s.old }} &rarr; {{ s.new }}</h2>
{% if s.old_date %}<p class="meta">{{ s.old_date }} &rarr; {{ s.new_date }}</p>{% endif %}
<p>{{ s.old_clauses }} &rarr; {{ s.new_clauses }} clauses: {% for k, n in s.counts.items() %}{{ n }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}</p>
<h3>Newly flagged ({{ s.newly_flagged|length }})</h3>
{% if not s.newly_flagged %}<p class="note">None.</p>{% endif %}<ol>
{% for i in s.newly_flagged %}<li class="clause">{% for n in i.labels %}<span class="chip {{ n }}{% if n in i.new_labels %} appeared{% endif %}">{{ n }} {{ '%.2f' % i.scores[n] }}</span>{% endfor %}
<span class="meta">{{ i.change }}</span><br><mark>{{ i.text }}</mark>
{% if i.old_text %}<br><span class="meta">was:</span> <span class="ctx">{{ i.old_text }}</span>{% endif %}</li>{% endfor %}</ol>
<h3>No longer flagged ({{ s.no_longer_flagged|length }})</h3>
{% if not s.no_longer_flagged %}<p class="note">None.</p>{% endif %}<ol>
{% for i in s.no_longer_flagged %}<li class="clause">{% for n in i.labels %}<span class="chip {{ n }}{% if n in i.lost_labels %} lost{% endif %}">{{ n }} {{ '%.2f' % i.scores[n] }}</span>{% endfor %}
<span class="meta">{{ i.change }}</span><br><span class="ctx">{{ i.text }}</span>
{% if i.new_text %}<br><span class="meta">now:</span> {{ i.new_text }}{% endif %}</li>{% endfor %}</ol>
<h3>Changed clauses</h3>
{% if not s.rows %}<p class="note">No clause changed.</p>{% else %}
<table class="diff"><tr><th class="kind">change</th><th>old</th><th>new</th></tr>
{% for r in s.rows %}<tr class="{{ r.change }}"><td class="kind">{{ r.change }}{% if r.change == 'modified' %}<br><span class="meta">{{ '%.0f' % (100 * r.similarity) }}% similar</span>{% endif %}</td>
<td class="old">{% for n in r.old_labels %}<span class="chip {{ n }}{% if n in r.lost %} lost{% endif %}">{{ n }}</span>{% endfor %}{% if r.old_labels %}<br>{% endif %}{{ r.old_html }}</td>
<td class="new">{% for n in r.new_labels %}<span class="chip {{ n }}{% if n in r.appeared %} appeared{% endif %}">{{ n }}</span>{% endfor %}{% if r.new_labels %}<br>{% endif %}{{ r.new_html }}</td></tr>
{% endfor %}</table>{% endif %}
</section>{% endfor %}
</body></html>
"""


def render_html(steps: list[dict], model: str = "") -> str:
    """A side-by-side page of the changed clauses of each step, with their flags."""
    import jinja2

    views = []
    for step in steps:
        rows = []
        for ch in step["changes"]:
            old, new = ch["old"] or {}, ch["new"] or {}
            if ch["change"] == "modified":
                old_html, new_html = _word_diff(old["text"], new["text"])
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
    env = jinja2.Environment(autoescape=True)
    return env.from_string(_DIFF_TEMPLATE).render(
        css=REPORT_CSS,
        steps=views,
        model=model,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of `scripts/diff.py`."""
    p = argparse.ArgumentParser(
        prog="diff.py",
        description="Compare two versions of a policy (or a folder of dated versions) and report "
        "the flags that appear or disappear.",
        epilog="Exit status: 0 nothing found, 1 a clause newly flagged with a --fail-on label "
        "appeared, 2 usage or input error, 3 internal error.",
    )
    p.add_argument(
        "--model", required=True, help="trained model folder (run/model) or export folder"
    )
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx", "onnx-int8"))
    p.add_argument("--json", type=Path, help="write the full result as JSON here")
    p.add_argument("--html", type=Path, help="write a side-by-side HTML page here")
    p.add_argument(
        "--fail-on",
        nargs="+",
        default=[],
        metavar="LABEL",
        help="exit 1 when a clause newly flagged with one of these labels appears (comma-separated or repeated)",
    )
    p.add_argument(
        "--min-similarity",
        type=float,
        default=DEFAULT_MIN_SIMILARITY,
        help="word-level similarity from which a changed clause counts as modified, not removed + added",
    )
    p.add_argument("--quiet", action="store_true", help="print only the flag changes")
    p.add_argument(
        "paths",
        nargs="*",
        metavar="OLD NEW | FOLDER",
        help="two versions (.txt .md .html), or one folder of versions with dates (YYYY-MM-DD) in their names",
    )
    return p


def _split_fail_on(args: argparse.Namespace) -> None:
    """`--fail-on ai_training old.md new.md` (what `make diff ARGS=--fail-on...` produces) lets the
    option swallow the paths: hand trailing existing paths back to the positionals."""
    labels = [x for item in args.fail_on for x in item.split(",") if x]
    while labels and len(args.paths) < 2 and Path(labels[-1]).exists():
        args.paths.insert(0, labels.pop())
    args.fail_on = labels


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise RunError(f"cannot write {path}: {err.strerror or err}") from err


def main(argv: list[str] | None = None, predictor=None) -> int:
    """`scripts/diff.py`: returns the exit status (0 done, 1 `--fail-on` triggered, 2 error).
    `predictor` replaces loading `--model` (tests, or reuse from Python)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _split_fail_on(args)
    configure_logging()
    try:
        if not 0.0 < args.min_similarity <= 1.0:
            raise RunError("--min-similarity must be in (0, 1]")
        history = len(args.paths) == 1 and Path(args.paths[0]).is_dir()
        if not history and len(args.paths) != 2:
            raise RunError("give two versions (OLD NEW) or one folder of dated versions")
        if predictor is None:
            predictor = load_predictor(args.model, args.backend)
        unknown = [n for n in args.fail_on if n not in predictor.labels]
        if unknown:
            raise RunError(
                f"--fail-on: unknown label(s) {', '.join(unknown)}; the model's labels: {', '.join(predictor.labels)}"
            )
        if history:
            result = diff_history(predictor, args.paths[0], args.min_similarity)
            steps = result["steps"]
        else:
            for path in args.paths:
                if not Path(path).is_file():
                    raise RunError(f"{path}: no such file")
            try:
                result = diff_files(predictor, args.paths[0], args.paths[1], args.min_similarity)
            except SkipDocument as err:
                raise RunError(str(err)) from err
            steps = [result]
        result["model"] = str(args.model)
        if args.json:
            _write(args.json, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        if args.html:
            _write(args.html, render_html(steps, str(args.model)))
    except RunError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - an internal error must not read as a --fail-on hit
        print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return 3
    for step in steps:
        if args.quiet:
            for line in format_step(step).splitlines()[1:]:
                if line.lstrip().startswith(("+", "-")):
                    print(line)
        else:
            print(format_step(step))
    triggered = [
        (step, item)
        for step in steps
        for item in step["newly_flagged"]
        if set(item["new_labels"]) & set(args.fail_on)
    ]
    if triggered:
        names = sorted(
            {n for _, item in triggered for n in item["new_labels"] if n in args.fail_on}
        )
        print(
            f"FAIL: {len(triggered)} clause(s) newly flagged with {', '.join(names)}",
            file=sys.stderr,
        )
        return 1
    return 0
