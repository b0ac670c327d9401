"""What changed between two versions of a policy, clause by clause and label by label.

Both versions are segmented into clauses (`train.segment`) and aligned (`train.align`:
unchanged, moved, modified, added, removed; rewordings are paired by wording and, when the model
gives sentence embeddings, by meaning, at a near-linear cost). Every distinct clause text is
scored once.

**Clause level.** A clause is *newly flagged* with a label when it is added and carries it, or
when it rewords an old clause and the label really flips: the old score was below the label's
threshold and the new one clears it by the hysteresis margin (`--margin`, in logit units, 0.5
by default); the reverse for *no longer flagged*. Scores that wobble across the threshold by
less than the margin are not changes. Headings and navigation text (short lines without a
sentence end, mostly capitalised words) are aligned and shown but never count.

**Label level**, what a reader asks ("did the service grant itself this right?"), for each label:

- `granted`: no clause of the old version carried it, one of the new version does (a flip);
- `withdrawn`: the old version carried it, no clause of the new one does;
- `widened` / `narrowed`: both versions carry it, and a clause flipped and more / fewer clauses
  carry it now, or no clause flipped but flagged clauses were reworded and the inserted words
  say more / less about the label (matches of its keyword pattern, `label_terms`: "language
  models" becoming "AI models");
- `reworded`: both versions carry it and flagged clauses were reworded or replaced one for one,
  saying neither more nor less (still granted);
- `unchanged`.

Each label-level change keeps its clause-level evidence (new clauses first, highest score
first). `--fail-on LABEL` makes the command exit with status 1 when LABEL is granted or widened,
so a scheduled job can watch a policy.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from train.align import (
    DEFAULT_MIN_SIMILARITY,
    Alignment,
    AlignmentStats,
    align_clauses,
)
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

logger = logging.getLogger("clausewatch.diff")

__all__ = ["Alignment", "align_clauses", "diff_documents", "diff_files", "diff_history", "main"]

CHANGE_KINDS = ("unchanged", "moved", "modified", "added", "removed")
LABEL_CHANGES = ("granted", "widened", "reworded", "narrowed", "withdrawn", "unchanged")
# Label-level changes that add a right (`--fail-on`, "new grant" in benchmarks) or remove one.
GAINS = ("granted", "widened")
LOSSES = ("withdrawn", "narrowed")
DEFAULT_MARGIN = 0.5
# A date in a version's file name: 2023-03-01, 2023_03_01 or 20230301 (first one wins).
_DATE = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")
_SENTENCE_END = re.compile(r"[.!?;:)\]\"'\u201d\u2019]\s*$")
_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_MINOR_WORDS = frozenset(
    "a an and as at by for from in of on or our the to we with you your how what when why who "
    "do does this that is are".split()
)


def is_heading(text: str) -> bool:
    """A heading or navigation line: at most 12 words, no sentence end, and its words (other
    than short function words) capitalised: "How We Use Your Information", "HOME | ABOUT US"."""
    stripped = text.strip().strip("*_#").strip()
    words = _WORD.findall(stripped)
    if not words or len(words) > 12 or _SENTENCE_END.search(stripped):
        return False
    content = [w for w in words if w.lower() not in _MINOR_WORDS]
    return bool(content) and all(w[0].isupper() for w in content)


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class CachedScorer:
    """Scores and flags texts with a predictor, each distinct text once (in a version history
    the same clause is seen by several steps), with sentence embeddings when the predictor gives
    them (`has_embeddings`)."""

    def __init__(self, predictor, batch_size: int = 64) -> None:
        self.predictor = predictor
        self.labels = list(predictor.labels)
        self.thresholds = np.asarray(predictor.thresholds, dtype=float)
        self.with_embeddings = bool(getattr(predictor, "has_embeddings", False))
        self.batch_size = batch_size
        self.cache: dict[str, tuple[dict[str, float], list[str]]] = {}
        self.vectors: dict[str, np.ndarray] = {}

    def _fill(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if not todo:
            return
        if self.with_embeddings:
            probs, vectors = self.predictor.predict_with_embeddings(todo, self.batch_size)
            self.vectors.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        else:
            probs = self.predictor.predict_proba(todo, self.batch_size)
        probs = np.asarray(probs)
        flags = np.asarray(self.predictor.flag(probs))
        for text, p, f in zip(todo, probs, flags, strict=True):
            scores = {n: round(float(v), 6) for n, v in zip(self.labels, p, strict=True)}
            self.cache[text] = (scores, [n for n, on in zip(self.labels, f, strict=True) if on])

    def score(self, texts: Sequence[str]) -> list[tuple[dict[str, float], list[str]]]:
        """(scores by label, flagged labels) for each text."""
        self._fill(texts)
        return [self.cache[t] for t in texts]

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence embeddings, one row per text (needs `with_embeddings`)."""
        self._fill(texts)
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 0))


def _max_chars(predictor) -> int:
    max_length = getattr(getattr(predictor, "meta", None), "max_length", None)
    return max_chars_for(max_length) if max_length else 1000


def _side(clauses, index: int | None, scorer: CachedScorer) -> dict | None:
    if index is None:
        return None
    c = clauses[index]
    scores, labels = scorer.cache[c.text]
    return {
        "index": index,
        "start": c.start,
        "end": c.end,
        "text": c.text,
        "heading": is_heading(c.text),
        "scores": scores,
        "labels": labels,
    }


def _flips(a: Alignment, old: dict | None, new: dict | None, labels, thresholds, margin):
    """(labels that appeared on the new side, labels lost from the old side) for one aligned
    clause, with the hysteresis margin on reworded clauses; headings never flip."""
    if a.change in ("unchanged", "moved"):
        return [], []
    if a.change == "added":
        return ([] if new["heading"] else [n for n in labels if n in new["labels"]]), []
    if a.change == "removed":
        return [], ([] if old["heading"] else [n for n in labels if n in old["labels"]])
    if old["heading"] and new["heading"]:
        return [], []
    appeared, lost = [], []
    for name, t in zip(labels, thresholds, strict=True):
        lt, ln = _logit(t), _logit(new["scores"][name])
        if name in new["labels"] and name not in old["labels"] and ln >= lt + margin:
            appeared.append(name)
        if name in old["labels"] and name not in new["labels"] and ln < lt - margin:
            lost.append(name)
    return appeared, lost


def _evidence(a: Alignment, main: dict, other: dict | None, label: str, kind: str) -> dict:
    item = {
        "kind": kind,
        "change": a.change,
        "text": main["text"],
        "score": main["scores"][label],
        "start": main["start"],
        "end": main["end"],
    }
    if other is not None:
        item.update(
            {
                "other_text": other["text"],
                "other_score": other["scores"][label],
                "similarity": a.similarity,
                "cosine": a.cosine,
            }
        )
    return item


def label_terms(label: str) -> re.Pattern | None:
    """What a label is about, in words: the keyword baseline's pattern for the label (and, for
    `ai_training`, also the pattern that defines "mentions AI")."""
    from train.baselines import KEYWORD_PATTERNS
    from train.patterns import AI_PATTERN

    parts = [KEYWORD_PATTERNS[label]] if label in KEYWORD_PATTERNS else []
    if label == "ai_training":
        parts.append(AI_PATTERN.pattern)
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE) if parts else None


def _new_terms(text: str, other: str, pattern: re.Pattern) -> int:
    """How many matches of `pattern` in `text` touch words that `other` does not have at that
    place (the words a rewording inserted; case and punctuation do not count)."""
    tokens = list(_TOKEN.finditer(text))
    a = [m.group().lower() for m in _TOKEN.finditer(other)]
    b = [m.group().lower() for m in tokens]
    inserted: set[int] = set()
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("insert", "replace"):
            inserted.update(range(j1, j2))
    count = 0
    for m in pattern.finditer(text):
        touched = (k for k, t in enumerate(tokens) if t.start() < m.end() and t.end() > m.start())
        count += any(k in inserted for k in touched)
    return count


def _rewording_direction(reworded: list[dict], pattern: re.Pattern | None) -> str:
    """`widened` when reworded flagged clauses gained wording about the label (more matches of
    its term pattern among the inserted words than among the deleted ones), `narrowed` for the
    reverse, else `reworded`."""
    if pattern is None:
        return "reworded"
    gained = sum(_new_terms(e["text"], e["other_text"], pattern) for e in reworded)
    lost = sum(_new_terms(e["other_text"], e["text"], pattern) for e in reworded)
    return "widened" if gained > lost else "narrowed" if lost > gained else "reworded"


def label_changes(
    pairs: list[tuple[Alignment, dict | None, dict | None]], labels, thresholds, margin
) -> list[dict]:
    """One entry per label: the document-level change and its clause-level evidence."""
    out = []
    for name, t in zip(labels, thresholds, strict=True):
        old_n = sum(1 for _, o, _ in pairs if o and not o["heading"] and name in o["labels"])
        new_n = sum(1 for _, _, n in pairs if n and not n["heading"] and name in n["labels"])
        gained, lost, reworded = [], [], []
        for a, o, n in pairs:
            appeared, gone = _flips(a, o, n, [name], [t], margin)
            if appeared:
                gained.append(_evidence(a, n, o, name, "gained"))
            if gone:
                lost.append(_evidence(a, o, n, name, "lost"))
            if (
                a.change == "modified"
                and not (o["heading"] or n["heading"])
                and name in o["labels"]
                and name in n["labels"]
            ):
                reworded.append(_evidence(a, n, o, name, "reworded"))
        if gained and not old_n:
            change = "granted"
        elif lost and not new_n:
            change = "withdrawn"
        elif gained or lost:
            change = "widened" if new_n > old_n else "narrowed" if new_n < old_n else "reworded"
        elif reworded:
            change = _rewording_direction(reworded, label_terms(name))
        else:
            change = "unchanged"
        evidence = sorted(gained, key=lambda e: -e["score"]) + sorted(
            lost, key=lambda e: -e["score"]
        )
        if not evidence:
            evidence += sorted(reworded, key=lambda e: -e["score"])
        out.append(
            {
                "label": name,
                "change": change,
                "old_flagged": old_n,
                "new_flagged": new_n,
                "evidence": evidence if change != "unchanged" else [],
            }
        )
    return out


def _clause_item(a: Alignment, side: dict, other: dict | None, delta: list, key: str, keys):
    item = {
        "change": a.change,
        "text": side["text"],
        "labels": side["labels"],
        key: delta,
        "scores": side["scores"],
        "start": side["start"],
        "end": side["end"],
    }
    if other:
        text_key, labels_key, start_key, end_key = keys
        item.update(
            {
                text_key: other["text"],
                labels_key: other["labels"],
                start_key: other["start"],
                end_key: other["end"],
                "similarity": a.similarity,
                "cosine": a.cosine,
            }
        )
    return item


# Keys under which a changed clause's counterpart on the other side is reported.
_OLD_KEYS = ("old_text", "old_labels", "old_start", "old_end")
_NEW_KEYS = ("new_text", "new_text_labels", "new_start", "new_end")


def diff_documents(
    predictor,
    old_text: str,
    new_text: str,
    fmt: str = "txt",
    new_fmt: str | None = None,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    *,
    scorer: CachedScorer | None = None,
    margin: float = DEFAULT_MARGIN,
    use_meaning: bool = True,
) -> dict:
    """Align, score and compare two versions of a document (`fmt`: txt, md or html; `new_fmt`
    when the new version has another format). Returns a JSON-ready dict:

    - `counts`: clauses per change kind; `old_clauses`, `new_clauses`; `alignment` (its cost);
    - `label_changes`: per label, `change` (granted, widened, reworded, narrowed, withdrawn,
      unchanged), `old_flagged` / `new_flagged` clause counts and `evidence` (clauses with
      `kind` gained / lost / reworded, `text`, `score`, `start`, `end`, and for reworded
      clauses `other_text`, `other_score`, `similarity`, `cosine`);
    - `changes`: every clause that is not unchanged, with its `change`, `similarity`, `cosine`
      and `old` / `new` sides (`start`, `end`, `text`, `heading`, `labels`, `scores`);
    - `newly_flagged`: added or modified new clauses with a label that really flipped on:
      `text`, `labels` (every label the new clause carries), `new_labels` (those that flipped),
      `scores`, `change`, `start`, `end`, and for modified clauses `old_text`, `old_labels`,
      `old_start`, `old_end`, `similarity`, `cosine`;
    - `no_longer_flagged`: the reverse (`lost_labels`; `new_text`, `new_text_labels`, ...).

    Offsets index the prepared text of each version (`train.segment.prepare_text`).
    """
    from train.segment import segment_document

    scorer = scorer or CachedScorer(predictor)
    max_chars = _max_chars(predictor)
    _, old_clauses = segment_document(old_text, fmt, max_chars=max_chars)
    _, new_clauses = segment_document(new_text, new_fmt or fmt, max_chars=max_chars)
    old_texts = [c.text for c in old_clauses]
    new_texts = [c.text for c in new_clauses]

    def embed(left_old: list[int], left_new: list[int]):
        vectors = scorer.embeddings(
            [old_texts[i] for i in left_old] + [new_texts[j] for j in left_new]
        )
        return vectors[: len(left_old)], vectors[len(left_old) :]

    stats = AlignmentStats()
    alignment = align_clauses(
        old_texts,
        new_texts,
        min_similarity,
        embed=embed if use_meaning and scorer.with_embeddings else None,
        stats=stats,
    )
    scorer.score(old_texts + new_texts)
    labels, thresholds = scorer.labels, scorer.thresholds

    pairs = [
        (a, _side(old_clauses, a.old, scorer), _side(new_clauses, a.new, scorer)) for a in alignment
    ]
    changes, newly, lost = [], [], []
    for a, old_side, new_side in pairs:
        if a.change == "unchanged":
            continue
        changes.append(
            {
                "change": a.change,
                "similarity": a.similarity,
                "cosine": a.cosine,
                "old": old_side,
                "new": new_side,
            }
        )
        appeared, gone = _flips(a, old_side, new_side, labels, thresholds, margin)
        if appeared:
            newly.append(_clause_item(a, new_side, old_side, appeared, "new_labels", _OLD_KEYS))
        if gone:
            lost.append(_clause_item(a, old_side, new_side, gone, "lost_labels", _NEW_KEYS))
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    for a in alignment:
        counts[a.change] += 1
    return {
        "labels": labels,
        "old_clauses": len(old_clauses),
        "new_clauses": len(new_clauses),
        "counts": counts,
        "alignment": {
            "pairs_compared": stats.pairs_compared,
            "by_meaning": bool(use_meaning and scorer.with_embeddings),
        },
        "margin": margin,
        "label_changes": label_changes(pairs, labels, thresholds, margin),
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
    margin: float = DEFAULT_MARGIN,
) -> dict:
    """`diff_documents` over two files (format from the suffix: .txt, .md, .html)."""
    old_raw, old_fmt = read_version(old_path)
    new_raw, new_fmt = read_version(new_path)
    result = diff_documents(
        predictor, old_raw, new_raw, old_fmt, new_fmt, min_similarity, scorer=scorer, margin=margin
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
    predictor,
    folder: str | Path,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    margin: float = DEFAULT_MARGIN,
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
        step = diff_files(
            predictor, old_path, new_path, min_similarity, scorer=scorer, margin=margin
        )
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
        epilog="Exit status: 0 nothing found, 1 a --fail-on label was granted or widened, "
        "2 usage or input error, 3 internal error.",
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
        help="exit 1 when one of these labels is granted or widened (comma-separated or repeated)",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="hysteresis margin in logit units: a reworded clause flips a label only when its new "
        "score clears the threshold by this much (on) or falls this far below it (off)",
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
        if not 0.0 <= args.margin < 10:
            raise RunError("--margin must be in [0, 10) (logit units)")
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
            result = diff_history(predictor, args.paths[0], args.min_similarity, args.margin)
            steps = result["steps"]
        else:
            for path in args.paths:
                if not Path(path).is_file():
                    raise RunError(f"{path}: no such file")
            try:
                result = diff_files(
                    predictor, args.paths[0], args.paths[1], args.min_similarity, margin=args.margin
                )
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
        (step, change)
        for step in steps
        for change in step["label_changes"]
        if change["label"] in args.fail_on and change["change"] in GAINS
    ]
    if triggered:
        names = sorted({f"{c['label']} {c['change']}" for _, c in triggered})
        print(f"FAIL: {', '.join(names)} in {len(triggered)} step(s)", file=sys.stderr)
        return 1
    return 0
