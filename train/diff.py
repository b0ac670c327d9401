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

**List items are read with their lead-in.** A clause that continues a list ("You may not:" ...
"to train an artificial intelligence system,") states, on its own, what the lead-in qualifies:
the model scores clauses one at a time, so such an item would count as a grant where the lead-in
forbids it to users or denies it. An item keeps a label only when the item joined to its lead-in
(the chain of lead-ins, for nested lists) is flagged too; its score per label is the lower of
the two, and its side says which lead-in was read (`lead_in`).

**Label level** (`train.label_changes`): per label, granted, widened, reworded, narrowed,
withdrawn or unchanged, which is what a reader asks ("did the service grant itself this right?").
Each label-level change keeps its clause-level evidence (new clauses first, highest score
first). `--fail-on LABEL` makes the command exit with status 1 when LABEL is granted or widened,
so a scheduled job can watch a policy.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from train.align import (
    DEFAULT_MIN_SIMILARITY,
    Alignment,
    AlignmentStats,
    align_clauses,
)
from train.cli import configure_logging
from train.diff_report import format_step, render_html
from train.documents import DOCUMENT_FORMATS, SkipDocument, read_document
from train.errors import RunError
from train.label_changes import (
    DEFAULT_MARGIN,
    GAINS,
    flips,
    label_changes,
)
from train.language import is_other_language
from train.outputs import write_atomic
from train.predictor import load_predictor, max_chars_for
from train.segment import is_heading_or_navigation

logger = logging.getLogger("clausewatch.diff")

__all__ = ["Alignment", "align_clauses", "diff_documents", "diff_files", "diff_history", "main"]

CHANGE_KINDS = ("unchanged", "moved", "modified", "added", "removed")
# A date in a version's file name: 2023-03-01, 2023_03_01 or 20230301 (first one wins).
_DATE = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")


# Dynamic int8 quantisation gives each batch one activation range, so a clause's int8 score
# moves with the clauses batched beside it. A changed clause whose score is this close to a
# decision (a flag or report threshold, in logits) is scored again on its own, so that what the
# diff reports about it does not depend on its neighbours. `python -m train.bench_wobble` measures
# the margin needed: on 2,000 corpus clauses, 49 flag or report decisions differed between batched
# and lone scores, the farthest batched score 1.10 logits from its threshold (a margin of 1.0
# missed one, 1.5 none, re-scoring 503 clauses instead of 354).
NEAR_DECISION = 1.5
BATCH_DEPENDENT_BACKENDS = ("onnx-int8",)


def _logits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class CachedScorer:
    """Scores and flags texts with a predictor, each distinct text once (in a version history
    the same clause is seen by several steps), with sentence embeddings when the predictor gives
    them (`has_embeddings`). With a backend whose scores depend on the batch (int8), `settle`
    scores texts near a decision again one at a time."""

    def __init__(self, predictor, batch_size: int | None = None) -> None:
        self.predictor = predictor
        self.labels = list(predictor.labels)
        self.thresholds = np.asarray(predictor.thresholds, dtype=float)
        # What a change needs to be reported (`train.label_changes`): the model's report
        # thresholds when it has them, else its flag thresholds.
        reporting = getattr(getattr(predictor, "meta", None), "report_thresholds", None)
        self.report_thresholds = np.asarray(reporting or predictor.thresholds, dtype=float)
        # Both decisions in logits, (2, labels): what `settle` measures a score's distance to.
        self.decision_logits = _logits(np.stack([self.thresholds, self.report_thresholds]))
        self.with_embeddings = bool(getattr(predictor, "has_embeddings", False))
        self.batch_size = batch_size
        self.cache: dict[str, tuple[dict[str, float], list[str]]] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.seconds = 0.0  # time spent in the model, all calls together
        self.batch_dependent = getattr(predictor, "backend_name", "") in BATCH_DEPENDENT_BACKENDS
        self.settled: set[str] = set()
        self.rescored = 0  # texts scored again on their own (`settle`)
        self.rescore_seconds = 0.0  # the part of `seconds` spent on them

    def _fill(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if not todo:
            return
        started = time.perf_counter()
        if self.with_embeddings:
            probs, vectors = self.predictor.predict_with_embeddings(todo, self.batch_size)
            self.vectors.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        else:
            probs = self.predictor.predict_proba(todo, self.batch_size)
        probs = np.asarray(probs)
        flags = np.asarray(self.predictor.flag(probs))
        for text, p, f in zip(todo, probs, flags, strict=True):
            self._store(text, p, f)
        self.seconds += time.perf_counter() - started

    def _store(self, text: str, p: np.ndarray, f: np.ndarray) -> None:
        scores = {n: round(float(v), 6) for n, v in zip(self.labels, p, strict=True)}
        self.cache[text] = (scores, [n for n, on in zip(self.labels, f, strict=True) if on])

    def settle(self, texts: Sequence[str]) -> None:
        """With a batch-dependent backend, score again on its own every text (scored already)
        whose score for some label lies within NEAR_DECISION logits of that label's flag or
        report threshold; a no-op otherwise."""
        if not self.batch_dependent:
            return
        near = []
        for text in dict.fromkeys(texts):
            if text in self.settled:
                continue
            self.settled.add(text)
            scores = _logits([self.cache[text][0][n] for n in self.labels])
            if np.any(np.abs(scores - self.decision_logits) < NEAR_DECISION):
                near.append(text)
        if not near:
            return
        started = time.perf_counter()
        for text in near:
            probs = np.asarray(self.predictor.predict_proba([text], 1))
            self._store(text, probs[0], np.asarray(self.predictor.flag(probs))[0])
        elapsed = time.perf_counter() - started
        self.rescored += len(near)
        self.rescore_seconds += elapsed
        self.seconds += elapsed

    def score(self, texts: Sequence[str]) -> list[tuple[dict[str, float], list[str]]]:
        """(scores by label, flagged labels) for each text."""
        self._fill(texts)
        return [self.cache[t] for t in texts]

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence embeddings, one row per text (needs `with_embeddings`)."""
        self._fill(texts)
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 0))


def max_clause_chars(predictor) -> int:
    max_length = getattr(getattr(predictor, "meta", None), "max_length", None)
    return max_chars_for(max_length) if max_length else 1000


# A clause that ends a sentence (closing quotes, brackets and Markdown emphasis allowed after it).
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]*_]*$")
LEAD_IN_LOOKBACK = 40  # list items read with a lead-in at most this many clauses above them
LEAD_IN_CHARS = 400  # of a lead-in (chain) joined to an item, so the item is never truncated


def is_list_item(text: str) -> bool:
    """A clause that continues a list rather than standing as a sentence: it starts in lower case
    or does not end a sentence ("to train an artificial intelligence system,")."""
    t = text.strip()
    return bool(t) and (t[0].islower() or not _SENTENCE_END.search(t))


def _breaks_off(text: str, following: str | None) -> bool:
    """A clause that breaks off mid-sentence and is continued by a clause in lower case ("third
    parties are prohibited from using such Content" followed by "to train an artificial
    intelligence system,"): a lead-in, like a clause ending with a colon."""
    continued = bool(following and following.strip()[:1].islower())
    return continued and not _SENTENCE_END.search(text.rstrip())


def lead_ins(texts: Sequence[str]) -> list[int | None]:
    """For each clause, the index of the lead-in whose list it continues, or None. A clause that
    stands as a sentence ends the list; a lead-in inside a list starts a nested one."""
    out: list[int | None] = [None] * len(texts)
    current: int | None = None
    for i, text in enumerate(texts):
        if current is not None and i - current <= LEAD_IN_LOOKBACK and is_list_item(text):
            out[i] = current
        else:
            current = None
        following = texts[i + 1] if i + 1 < len(texts) else None
        # An item of a list opens a nested one only with a colon; items continuing one sentence
        # ("to train ...," "as input into ..., or") are siblings under the same lead-in.
        if text.rstrip().endswith(":") or (out[i] is None and _breaks_off(text, following)):
            current = i
    return out


def _with_lead_in(texts: Sequence[str], leads: list[int | None], i: int) -> str:
    """Clause `i` joined after its chain of lead-ins (the nearest last, at most LEAD_IN_CHARS)."""
    chain, j = [], leads[i]
    while j is not None:
        chain.append(texts[j].strip())
        j = leads[j]
    context = " ".join(reversed(chain))
    if len(context) > LEAD_IN_CHARS:
        context = context[:LEAD_IN_CHARS].rstrip() + " ... :"
    return f"{context} {texts[i].strip()}"


def read_in_context(texts: Sequence[str], scorer: CachedScorer) -> dict[int, dict]:
    """Effective scores and labels of the flagged list items of one version: an item keeps a
    label only when it is flagged joined to its lead-in too (score: the lower of the two).
    Clauses that are not flagged list items are absent (their own scores stand)."""
    leads = lead_ins(texts)
    items = [i for i, j in enumerate(leads) if j is not None and scorer.cache[texts[i]][1]]
    if not items:
        return {}
    joined = [_with_lead_in(texts, leads, i) for i in items]
    scorer.score(joined)
    scorer.settle(joined)
    out = {}
    for i, text in zip(items, joined, strict=True):
        own, context_scores = scorer.cache[texts[i]][0], scorer.cache[text][0]
        scores = {n: min(own[n], context_scores[n]) for n in scorer.labels}
        labels = [
            n for n, t in zip(scorer.labels, scorer.thresholds, strict=True) if scores[n] >= t
        ]
        out[i] = {"scores": scores, "labels": labels, "lead_in": texts[leads[i]]}
    return out


# Cosine from which an added clause that gains a label and a removed clause that loses it are
# one clause reworded (sentence embeddings of the fine-tuned encoder; clauses that carry the same
# label sit close together in that space).
REWORDED_FLAG_COSINE = 0.8


def pair_reworded_flags(
    newly: list[dict],
    lost: list[dict],
    scorer: CachedScorer,
    min_cosine: float = REWORDED_FLAG_COSINE,
) -> list[dict]:
    """Per label, pair added clauses that gain it with removed clauses that lose it, closest in
    meaning first, one to one, from `min_cosine` up: such a pair is the label kept in other words
    (a rewrite the alignment left as removed + added), not a flip. The paired label leaves both
    items (items left with no label drop out of the lists, in place); returns the pairs."""
    if not scorer.with_embeddings:
        return []
    pairs = []
    for name in scorer.labels:
        gained = [x for x in newly if x["change"] == "added" and name in x["new_labels"]]
        gone = [x for x in lost if x["change"] == "removed" and name in x["lost_labels"]]
        if not gained or not gone:
            continue
        sim = (
            scorer.embeddings([x["text"] for x in gained])
            @ scorer.embeddings([x["text"] for x in gone]).T
        )
        close = np.flatnonzero(sim >= min_cosine)
        used_new, used_old = set(), set()
        for flat in close[np.argsort(-sim.flat[close], kind="stable")]:
            i, j = divmod(int(flat), len(gone))
            if i in used_new or j in used_old:
                continue
            used_new.add(i)
            used_old.add(j)
            gained[i]["new_labels"].remove(name)
            gone[j]["lost_labels"].remove(name)
            pairs.append(
                {
                    "label": name,
                    "cosine": round(float(sim[i, j]), 4),
                    "text": gained[i]["text"],
                    "score": gained[i]["scores"][name],
                    "old_text": gone[j]["text"],
                    "old_score": gone[j]["scores"][name],
                }
            )
            if len(used_new) == len(gained) or len(used_old) == len(gone):
                break
    newly[:] = [x for x in newly if x["new_labels"]]
    lost[:] = [x for x in lost if x["lost_labels"]]
    return pairs


def _side(
    clauses, index: int | None, scorer: CachedScorer, in_context: dict[int, dict]
) -> dict | None:
    if index is None:
        return None
    c = clauses[index]
    scores, labels = scorer.cache[c.text]
    read = in_context.get(index)
    if read:
        scores, labels = read["scores"], read["labels"]
    heading = is_heading_or_navigation(c.text)
    # Language identification only where it can matter: a clause that carries a label.
    other_language = bool(labels) and not heading and is_other_language(c.text)
    return {
        "index": index,
        "start": c.start,
        "end": c.end,
        "text": c.text,
        "heading": heading,
        "other_language": other_language,
        "ignored": heading or other_language,
        "scores": scores,
        "labels": labels,
        "lead_in": read["lead_in"] if read else None,
    }


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
    if side.get("lead_in"):
        item["lead_in"] = side["lead_in"]
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
    timings: dict | None = None,
) -> dict:
    """Align, score and compare two versions of a document (`fmt`: txt, md or html; `new_fmt`
    when the new version has another format); `timings`, when given, receives the seconds spent
    segmenting, in the model and aligning. Returns a JSON-ready dict:

    - `counts`: clauses per change kind; `old_clauses`, `new_clauses`; `alignment` (its cost);
    - `label_changes`: per label, `change` (granted, widened, reworded, narrowed, withdrawn,
      unchanged), `old_flagged` / `new_flagged` clause counts and `evidence` (clauses with
      `kind` gained / lost / reworded, `text`, `score`, `start`, `end`, and for reworded
      clauses `other_text`, `other_score`, `similarity`, `cosine`);
    - `changes`: every clause that is not unchanged, with its `change`, `similarity`, `cosine`
      and `old` / `new` sides (`start`, `end`, `text`, `heading`, `other_language`, `ignored`,
      `labels`, `scores`);
    - `newly_flagged`: added or modified new clauses with a label that really flipped on:
      `text`, `labels` (every label the new clause carries), `new_labels` (those that flipped),
      `scores`, `change`, `start`, `end`, and for modified clauses `old_text`, `old_labels`,
      `old_start`, `old_end`, `similarity`, `cosine`;
    - `no_longer_flagged`: the reverse (`lost_labels`; `new_text`, `new_text_labels`, ...);
    - `reworded_flags`: an added clause that gains a label paired with a removed one that loses
      it, close in meaning (`label`, `cosine`, `text`, `score`, `old_text`, `old_score`): the
      label kept in other words, so neither is in the two lists above.

    Offsets index the prepared text of each version (`train.segment.prepare_text`).
    """
    from train.segment import segment_document

    scorer = scorer or CachedScorer(predictor)
    started, model_before = time.perf_counter(), scorer.seconds
    rescored_before, rescore_before = scorer.rescored, scorer.rescore_seconds
    max_chars = max_clause_chars(predictor)
    _, old_clauses = segment_document(old_text, fmt, max_chars=max_chars)
    _, new_clauses = segment_document(new_text, new_fmt or fmt, max_chars=max_chars)
    segmented = time.perf_counter()
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
    # Changed clauses decide what is reported: near a threshold, their scores must not depend on
    # the clauses batched beside them (unchanged ones have one score on both sides).
    scorer.settle(
        [old_texts[a.old] for a in alignment if a.change in ("removed", "modified")]
        + [new_texts[a.new] for a in alignment if a.change in ("added", "modified")]
    )
    old_read, new_read = read_in_context(old_texts, scorer), read_in_context(new_texts, scorer)
    if timings is not None:
        model_s = scorer.seconds - model_before
        timings["rescored"] = scorer.rescored - rescored_before
        timings["rescore_s"] = scorer.rescore_seconds - rescore_before
        timings["segment_s"] = segmented - started
        timings["model_s"] = model_s
        timings["align_s"] = time.perf_counter() - segmented - model_s
    labels, thresholds = scorer.labels, scorer.thresholds

    pairs = [
        (
            a,
            _side(old_clauses, a.old, scorer, old_read),
            _side(new_clauses, a.new, scorer, new_read),
        )
        for a in alignment
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
        appeared, gone = flips(a, old_side, new_side, labels, thresholds, margin)
        if appeared:
            newly.append(_clause_item(a, new_side, old_side, appeared, "new_labels", _OLD_KEYS))
        if gone:
            lost.append(_clause_item(a, old_side, new_side, gone, "lost_labels", _NEW_KEYS))
    reworded_flags = pair_reworded_flags(newly, lost, scorer) if use_meaning else []
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
        "label_changes": label_changes(pairs, labels, thresholds, margin, scorer.report_thresholds),
        "newly_flagged": newly,
        "no_longer_flagged": lost,
        "reworded_flags": reworded_flags,
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
# Command line
# ---------------------------------------------------------------------------------------------


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """`--model` and `--backend`, as `diff.py` and `watch.py` take them."""
    from train.inference import BACKENDS

    p.add_argument(
        "--model", required=True, help="trained model folder (run/model) or export folder"
    )
    p.add_argument("--backend", default="auto", choices=BACKENDS)


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of `scripts/diff.py`."""
    p = argparse.ArgumentParser(
        prog="diff.py",
        description="Compare two versions of a policy (or a folder of dated versions) and report "
        "the flags that appear or disappear.",
        epilog="Exit status: 0 nothing found, 1 a --fail-on label was granted or widened, "
        "2 usage or input error, 3 internal error.",
    )
    add_model_arguments(p)
    p.add_argument("--json", type=Path, help="write the full result as JSON here")
    p.add_argument("--html", type=Path, help="write a side-by-side HTML page here")
    p.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="LABEL[,LABEL]",
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
    """`--fail-on a,b --fail-on c` -> [a, b, c]. The option takes one value each time, so the
    paths after it (`--fail-on ai_training old.md new.md`) stay paths."""
    args.fail_on = [x for item in args.fail_on for x in item.split(",") if x]


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda fh: fh.write(text))
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
