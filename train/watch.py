"""Watch: per service and document, which rights a policy granted itself, and when.

Input, one of:

- a folder of versions: every folder that directly holds document files with a date in their
  names is one document's history (the Open Terms Archive layout
  `<Service>/<Document>/<date>_<id>.md`, or a flat folder of dated files); the service is the
  parent folder's name, the document the folder's own name;
- two snapshot folders with the same `<Service>/<Document>.md` layout (`OLD NEW`): each document
  present in both is one step dated between the two snapshots (`--dates`, or the dates in the
  folder names); a document only in the new snapshot is reported as new, never as a grant.

Each consecutive pair of versions goes through `train.diff.diff_documents` (alignment by wording
and meaning, hysteresis margin, headings ignored); every label-level change that is not
`unchanged` becomes a timeline row with its evidence clauses. Output folder:

- `timeline.jsonl`: one JSON object per change, newest first (`service`, `document`,
  `from_date`, `date`, `label`, `change`, `old_flagged`, `new_flagged`, `evidence`, `old_path`,
  `new_path`); `new_document` rows carry the labels a new document is flagged with;
- `timeline.csv`: the same rows, flat (the strongest evidence clause and its score);
- `report.html`: services x labels with the changes, newest first, each linked to its evidence
  with a word-level diff;
- `skipped.csv`: versions that could not be read, with the reason;
- `parts/`: one finished step per file, so a rerun (after a kill) skips what is done.

Exit status: 0 nothing found, 1 a `--fail-on` label was granted or widened (since `--since`),
2 usage or input error, 3 internal error.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from train.cli import configure_logging
from train.diff import (
    CachedScorer,
    add_model_arguments,
    diff_documents,
    max_clause_chars,
    read_version,
    version_date,
)
from train.diff_report import word_diff
from train.documents import DOCUMENT_FORMATS, SkipDocument
from train.errors import RunError
from train.label_changes import DEFAULT_MARGIN, GAINS, LABEL_CHANGES
from train.outputs import lock_output, write_atomic
from train.pages import render_page
from train.predict_report import REPORT_CSS
from train.predictor import load_predictor, model_fingerprint

logger = logging.getLogger("clausewatch.watch")

NEW_DOCUMENT = "new_document"
PARTS = "parts"
MARKER = ".clausewatch-watch"
CSV_FIELDS = [
    "service",
    "document",
    "from_date",
    "date",
    "label",
    "change",
    "old_flagged",
    "new_flagged",
    "evidence_clauses",
    "top_evidence",
    "top_score",
    "old_path",
    "new_path",
]


@dataclass
class Version:
    when: date | None
    label: str  # the date as shown ("2023-04-01", or the snapshot name when it has no date)
    path: Path


@dataclass
class Series:
    """One document's versions, oldest first."""

    service: str
    document: str
    versions: list[Version] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.service}/{self.document}"


def _is_document(path: Path) -> bool:
    return (
        path.is_file() and not path.name.startswith(".") and path.suffix.lower() in DOCUMENT_FORMATS
    )


def _is_output_folder(path: Path) -> bool:
    return (
        (path / MARKER).exists() or (path / PARTS).is_dir() and (path / "timeline.jsonl").exists()
    )


def find_histories(root: Path) -> list[Series]:
    """Every folder under `root` holding dated document files is one document's history."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not _is_output_folder(here / d)
        )
        versions = []
        for name in sorted(files):
            path = here / name
            if not _is_document(path):
                continue
            when = version_date(name)
            if when is None:
                logger.warning("%s: no date (YYYY-MM-DD) in the file name; left out", path)
                continue
            versions.append(Version(when, when.isoformat(), path))
        if not versions:
            continue
        rel = here.relative_to(root).parts
        document = here.name if rel else root.resolve().name
        service = rel[-2] if len(rel) >= 2 else document
        versions.sort(key=lambda v: (v.when, v.path.name))
        found.append(Series(service, document, versions))
    return sorted(found, key=lambda s: s.key)


def _snapshot_name(folder: Path, given: str | None) -> tuple[date | None, str]:
    if given:
        try:
            return date.fromisoformat(given), given
        except ValueError:
            raise RunError(f"--dates: {given!r} is not a date (YYYY-MM-DD)") from None
    when = version_date(folder.resolve().name)
    return when, when.isoformat() if when else folder.resolve().name


def pair_snapshots(
    old_root: Path, new_root: Path, dates: tuple[str | None, str | None] = (None, None)
) -> tuple[list[Series], list[Series]]:
    """(documents in both snapshots, documents only in the new one), as two-version series."""
    old_when, old_label = _snapshot_name(old_root, dates[0])
    new_when, new_label = _snapshot_name(new_root, dates[1])

    def documents(root: Path) -> dict[tuple[str, str], Path]:
        out = {}
        for path in sorted(root.rglob("*")):
            if _is_document(path):
                rel = path.relative_to(root)
                service = rel.parts[0] if len(rel.parts) > 1 else root.resolve().name
                out[(service, path.stem)] = path
        return out

    old_docs, new_docs = documents(old_root), documents(new_root)
    both, new_only = [], []
    for (service, document), path in sorted(new_docs.items()):
        new_version = Version(new_when, new_label, path)
        if (service, document) in old_docs:
            old_version = Version(old_when, old_label, old_docs[(service, document)])
            both.append(Series(service, document, [old_version, new_version]))
        else:
            new_only.append(Series(service, document, [new_version]))
    return both, new_only


def _file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


@dataclass
class Step:
    series: Series
    old: Version
    new: Version

    def key(self, settings: str) -> str:
        parts = [
            self.series.key,
            _file_digest(self.old.path),
            _file_digest(self.new.path),
            settings,
        ]
        return hashlib.sha1("\0".join(parts).encode()).hexdigest()


def _steps(series: list[Series], since: date | None) -> Iterator[Step]:
    for s in series:
        for old, new in zip(s.versions, s.versions[1:], strict=False):
            if since and new.when and new.when < since:
                continue
            yield Step(s, old, new)


def _evidence(items: list[dict], limit: int) -> list[dict]:
    keep = (
        "kind",
        "change",
        "text",
        "score",
        "lead_in",
        "other_text",
        "other_score",
        "similarity",
        "cosine",
    )
    return [{k: e[k] for k in keep if k in e} for e in items[:limit]]


def step_rows(step: Step, result: dict, labels: list[str] | None, max_evidence: int) -> list[dict]:
    """Timeline rows of one diffed step: its label-level changes other than `unchanged`."""
    rows = []
    for change in result["label_changes"]:
        if change["change"] == "unchanged" or (labels and change["label"] not in labels):
            continue
        rows.append(
            {
                "service": step.series.service,
                "document": step.series.document,
                "from_date": step.old.label,
                "date": step.new.label,
                "label": change["label"],
                "change": change["change"],
                "old_flagged": change["old_flagged"],
                "new_flagged": change["new_flagged"],
                "evidence": _evidence(change["evidence"], max_evidence),
                "old_path": str(step.old.path),
                "new_path": str(step.new.path),
            }
        )
    return rows


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda fh: fh.write(text))


def _sort_rows(rows: list[dict]) -> list[dict]:
    order = {c: i for i, c in enumerate((*LABEL_CHANGES, NEW_DOCUMENT))}
    rows = sorted(rows, key=lambda r: (r["service"], r["document"], order.get(r["change"], 99)))
    return sorted(rows, key=lambda r: r["date"], reverse=True)


def write_timeline(out: Path, rows: list[dict]) -> None:
    """`timeline.jsonl` and `timeline.csv`."""
    _write_text(
        out / "timeline.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )

    def write_csv(fh) -> None:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            top = r["evidence"][0] if r["evidence"] else {}
            writer.writerow(
                {
                    **r,
                    "evidence_clauses": len(r["evidence"]),
                    "top_evidence": top.get("text", ""),
                    "top_score": top.get("score", ""),
                }
            )

    write_atomic(out / "timeline.csv", write_csv)


def render_report(rows: list[dict], labels: list[str], info: dict) -> str:
    """The page a person reads first: services x labels, changes newest first, linked to their
    evidence (word-level diff for reworded clauses). Clause text is escaped."""
    changes, new_documents = [], []
    grid: dict[tuple[str, str], dict[str, list]] = {}
    for n, r in enumerate(rows):
        view = {**r, "anchor": f"c{n}"}
        if r["change"] == NEW_DOCUMENT:
            new_documents.append(view)
            continue
        evidence = []
        for e in r["evidence"]:
            item = dict(e)
            if e.get("other_text"):
                old, new = (
                    (e["text"], e["other_text"])
                    if e["kind"] == "lost"
                    else (e["other_text"], e["text"])
                )
                item["old_html"], item["new_html"] = word_diff(old, new)
            evidence.append(item)
        view["evidence"] = evidence
        changes.append(view)
        cells = grid.setdefault((r["service"], r["document"]), {label: [] for label in labels})
        cells.setdefault(r["label"], []).append(view)
    totals: dict[str, int] = {}
    for r in changes:
        totals[r["change"]] = totals.get(r["change"], 0) + 1
    grid_rows = [
        {"service": s, "document": d, "cells": [cells.get(label, []) for label in labels]}
        for (s, d), cells in sorted(grid.items())
    ]
    return render_page(
        "watch.html.j2",
        css=REPORT_CSS,
        labels=labels,
        grid=grid_rows,
        changes=changes,
        new_documents=new_documents,
        totals=sorted(totals.items(), key=lambda kv: LABEL_CHANGES.index(kv[0])),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **info,
    )


def _new_document_row(series: Series, scorer: CachedScorer | None, predictor) -> dict:
    """A document with no earlier version: listed as new (with the labels it is flagged with
    when `scorer` is given), never as a grant."""
    from train.segment import segment_document

    version = series.versions[-1]
    flagged: set[str] = set()
    if scorer is not None:
        raw, fmt = read_version(version.path)
        _, clauses = segment_document(raw, fmt, max_chars=max_clause_chars(predictor))
        for _, labels in scorer.score([c.text for c in clauses]):
            flagged.update(labels)
    return {
        "service": series.service,
        "document": series.document,
        "from_date": "",
        "date": version.label,
        "label": "",
        "change": NEW_DOCUMENT,
        "old_flagged": 0,
        "new_flagged": 0,
        "labels_flagged": [n for n in predictor.labels if n in flagged],
        "evidence": [],
        "old_path": "",
        "new_path": str(version.path),
    }


def _prepare_output(out: Path, settings: dict) -> None:
    """Create the output folder, or reuse one a watch run made; never write into someone else's
    non-empty folder."""
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise RunError(
            f"{out}: not empty and not a watch output folder; choose an empty or new folder"
        )
    (out / PARTS).mkdir(parents=True, exist_ok=True)
    previous = json.loads((out / MARKER).read_text()) if (out / MARKER).is_file() else None
    if previous and previous != settings:
        logger.info("%s: other model or settings than the last run; finished steps are redone", out)
    _write_text(out / MARKER, json.dumps(settings, sort_keys=True))


def run_watch(
    predictor,
    inputs: list[Path],
    out: Path,
    *,
    since: date | None = None,
    labels: list[str] | None = None,
    margin: float = DEFAULT_MARGIN,
    dates: tuple[str | None, str | None] = (None, None),
    documents: list[str] | None = None,
    model_id: str = "",
    max_evidence: int = 10,
    progress: bool = True,
    score_new_documents: bool = False,
) -> dict:
    """Diff every step of every history (or snapshot pair) and write the timeline and report.
    Returns a summary with the rows."""

    from tqdm.auto import tqdm

    for path in inputs:
        if not path.is_dir():
            raise RunError(f"{path}: not a folder")
    if len(inputs) == 1:
        series, new_only = find_histories(inputs[0]), []
    elif len(inputs) == 2:
        series, new_only = pair_snapshots(inputs[0], inputs[1], dates)
    else:
        raise RunError("give one folder of versions, or two snapshot folders (OLD NEW)")
    if documents:
        wanted = {d.lower() for d in documents}
        series = [s for s in series if s.document.lower() in wanted]
        new_only = [s for s in new_only if s.document.lower() in wanted]
    if not series and not new_only:
        raise RunError(f"{', '.join(map(str, inputs))}: no dated versions or documents found")
    settings = {"model": model_id, "margin": margin, "labels": labels or [], "version": 1}
    _prepare_output(out, settings)
    lock = lock_output(out, "watch")
    try:
        settings_key = json.dumps(settings, sort_keys=True)
        steps = list(_steps(series, since))
        rows: list[dict] = []
        skipped: list[dict] = []
        done = 0
        current = None
        scorer = CachedScorer(predictor)
        for step in tqdm(steps, desc="watch", unit="step", disable=not progress):
            if current != step.series.key:  # texts repeat within one history, rarely across
                current, scorer = step.series.key, CachedScorer(predictor)
            part = out / PARTS / f"{step.key(settings_key)}.json"
            if part.is_file():
                result_rows = json.loads(part.read_text(encoding="utf-8"))
                done += 1
            else:
                try:
                    old_raw, old_fmt = read_version(step.old.path)
                    new_raw, new_fmt = read_version(step.new.path)
                except SkipDocument as err:
                    skipped.append(
                        {"path": f"{step.old.path} -> {step.new.path}", "reason": str(err)}
                    )
                    continue
                result = diff_documents(
                    predictor, old_raw, new_raw, old_fmt, new_fmt, scorer=scorer, margin=margin
                )
                result_rows = step_rows(step, result, labels, max_evidence)
                _write_text(part, json.dumps(result_rows, ensure_ascii=False))
            rows += result_rows
        show = progress and score_new_documents and bool(new_only)
        for s in tqdm(new_only, desc="new documents", unit="doc", disable=not show):
            if since and s.versions[-1].when and s.versions[-1].when < since:
                continue
            scorer = CachedScorer(predictor) if score_new_documents else None
            try:
                rows.append(_new_document_row(s, scorer, predictor))
            except SkipDocument as err:
                skipped.append({"path": str(s.versions[-1].path), "reason": str(err)})
        rows = _sort_rows(rows)
        write_timeline(out, rows)
        with (out / "skipped.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["path", "reason"])
            writer.writeheader()
            writer.writerows(skipped)
        label_names = [n for n in predictor.labels if not labels or n in labels]
        info = {
            "model": model_id,
            "n_steps": len(steps),
            "n_series": len(series),
            "margin": margin,
            "since": since.isoformat() if since else "",
        }
        _write_text(out / "report.html", render_report(rows, label_names, info))
        return {
            "rows": rows,
            "steps": len(steps),
            "resumed": done,
            "series": len(series),
            "new_documents": len(new_only),
            "skipped": skipped,
        }
    finally:
        lock.release()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="watch.py",
        description="Which rights did each service grant itself, and when: a timeline over a "
        "folder of dated versions or between two snapshot folders.",
        epilog="Exit status: 0 nothing found, 1 a --fail-on label was granted or widened, "
        "2 usage or input error, 3 internal error.",
    )
    add_model_arguments(p)
    p.add_argument("--output", required=True, type=Path, help="output folder (created)")
    p.add_argument("--since", help="only steps whose newer version is dated on or after YYYY-MM-DD")
    p.add_argument("--labels", default="", help="comma-separated labels to report (default: all)")
    p.add_argument(
        "--fail-on",
        default="",
        help="comma-separated labels: exit 1 when one is granted or widened",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="hysteresis margin in logit units (see diff.py --help)",
    )
    p.add_argument(
        "--dates",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="dates of two snapshot folders (YYYY-MM-DD)",
    )
    p.add_argument(
        "--documents",
        default="",
        help='comma-separated document names to watch, e.g. "Terms of Service,Privacy Policy"',
    )
    p.add_argument(
        "--score-new-documents",
        action="store_true",
        help="also score documents that have no earlier version, to list the labels they carry",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="FOLDER",
        help="versions folder, or OLD NEW snapshots",
    )
    return p


def _names(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()]


def main(argv: list[str] | None = None, predictor=None) -> int:
    """`scripts/watch.py`; returns the exit status. `predictor` replaces loading `--model`."""
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        since = None
        if args.since:
            try:
                since = date.fromisoformat(args.since)
            except ValueError:
                raise RunError(f"--since: {args.since!r} is not a date (YYYY-MM-DD)") from None
        if not 0.0 <= args.margin < 10:
            raise RunError("--margin must be in [0, 10) (logit units)")
        if args.dates and len(args.paths) != 2:
            raise RunError("--dates goes with two snapshot folders")
        if predictor is None:
            predictor = load_predictor(args.model, args.backend)
        labels, fail_on = _names(args.labels), _names(args.fail_on)
        unknown = [n for n in labels + fail_on if n not in predictor.labels]
        if unknown:
            raise RunError(
                f"unknown label(s) {', '.join(unknown)}; the model's labels: {', '.join(predictor.labels)}"
            )
        model_id = str(args.model)
        try:
            backend = getattr(predictor, "backend_name", args.backend)
            model_id = f"{args.model} ({model_fingerprint(args.model, backend)[:12]})"
        except Exception:  # noqa: BLE001 - a test predictor has no folder to fingerprint
            pass
        summary = run_watch(
            predictor,
            args.paths,
            args.output,
            since=since,
            labels=labels or None,
            margin=args.margin,
            dates=tuple(args.dates) if args.dates else (None, None),
            documents=_names(args.documents) or None,
            model_id=model_id,
            progress=not args.no_progress,
            score_new_documents=args.score_new_documents,
        )
    except RunError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 3
    except Exception as err:  # noqa: BLE001 - an internal error must not read as a --fail-on hit
        print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return 3
    rows = summary["rows"]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["change"]] = counts.get(r["change"], 0) + 1
    print(
        f"{summary['steps']} steps of {summary['series']} documents ({summary['resumed']} resumed), "
        f"{summary['new_documents']} new documents, {len(summary['skipped'])} skipped: "
        + (", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "no change")
    )
    for r in rows:
        if r["change"] in GAINS:
            top = r["evidence"][0]["text"] if r["evidence"] else ""
            print(
                f"  {r['date']} {r['service']} / {r['document']}: {r['label']} {r['change']}: {top[:100]}"
            )
    print(f"timeline: {args.output / 'timeline.csv'}; report: {args.output / 'report.html'}")
    hits = [r for r in rows if r["label"] in fail_on and r["change"] in GAINS]
    if hits:
        names = sorted({f"{r['label']} {r['change']}" for r in hits})
        print(f"FAIL: {', '.join(names)} ({len(hits)} change(s))", file=sys.stderr)
        return 1
    return 0
