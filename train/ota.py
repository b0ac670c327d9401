"""Real-world evaluation set from the `ota_ai_changes` version pairs (Open Terms Archive).

For each before/after pair of a policy, both versions are segmented into clauses
(`train.segment.segment_document(text, "md")`) and compared by normalised text
(`train.textnorm.normalize_text`): a clause of the after version whose normalised text occurs
nowhere in the before version is **added**; a clause of the before version whose normalised text
occurs nowhere in the after version is **removed**.

Candidates for hand labelling are the added and removed clauses that mention AI
(`train.patterns.mentions_ai`), that mention personal data / user content / information
together with a use verb (`DATA_USE_PATTERN`, committed here), or that mention algorithms, models
or automated systems (`MODEL_PATTERN`). Their hand labels live in
`data/ota_labels.jsonl` as references (pair, side, file, offsets, text hash) and are joined with the
raw text by `load_ota_labels`; the text itself is never committed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from train.errors import DataError
from train.paths import REPO_ROOT
from train.patterns import mentions_ai
from train.segment import Clause, segment_document
from train.textnorm import normalize_text, text_sha1

OTA_SUBDIR = "ota_ai_changes"
OTA_PAIRS = REPO_ROOT / "data" / "ota_pairs.csv"
OTA_LABELS = REPO_ROOT / "data" / "ota_labels.jsonl"
SIDES = ("added", "removed")
# `none`: the clause says nothing about AI / ML (a data-use candidate).
DIRECTIONS = ("grant", "denial", "user_restriction", "other", "none")
PAIR_COLUMNS = ("pair_id", "service", "document_type", "before_file", "after_file")
LABEL_KEYS = ("pair_id", "side", "file", "start", "end", "sha1", "ai_training", "direction")

# Candidate selection only (never a label): personal data, user content or information about the
# user, together with a verb of use, collection, sharing, licensing, training or improvement.
DATA_USE_PATTERN = re.compile(
    r"(?=.*\b(?:personal\s+(?:data|information)"
    r"|(?:your|users?'?s?|customers?'?s?|members?'?s?)\s+(?:personal\s+)?"
    r"(?:data|content|information|inputs?|prompts?|posts?|messages|files|conversations"
    r"|uploads|submissions)"
    r"|user[- ]generated\s+content"
    r"|(?:information|data)\s+(?:about|from)\s+you"
    r"|(?:data|information)\s+(?:that\s+)?(?:we|you)\s+(?:collect|provide|share))\b)"
    r"(?=.*\b(?:use[sd]?|using|collect\w*|shar(?:e|es|ed|ing)|licen[cs]\w*|train\w*"
    r"|improv\w*|develop\w*)\b)",
    re.IGNORECASE | re.DOTALL,
)
# Candidate selection only: algorithms, models and automated systems, which the guideline counts as
# AI when user data develops them but which `mentions_ai` does not cover.
MODEL_PATTERN = re.compile(
    r"\balgorithm\w*|\bmodels?\b|\bneural\b|\bgenerative\b|\bchatbots?\b"
    r"|\bautomated\s+(?:systems?|processing|decision\w*|methods?|tools?|technolog\w*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ChangedClause:
    """A clause added to (after version) or removed from (before version) a policy."""

    pair_id: int
    side: str
    file: str
    start: int
    end: int
    text: str


def candidate_patterns(text: str) -> tuple[str, ...]:
    """Why a changed clause is a labelling candidate: `ai` (mentions AI / ML), `data` (data use),
    `model` (algorithms, models, automated systems)."""
    found = []
    if mentions_ai(text):
        found.append("ai")
    if DATA_USE_PATTERN.match(text):
        found.append("data")
    if MODEL_PATTERN.search(text):
        found.append("model")
    return tuple(found)


def load_ota_pairs(path: Path = OTA_PAIRS) -> list[dict[str, str]]:
    """Read the pair list (CSV, one row per before/after pair); checks columns and unique ids."""
    if not path.is_file():
        raise DataError(path, "pair list not found")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PAIR_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(path, f"missing columns {missing}", 1)
        rows: list[dict[str, str]] = []
        seen: set[str] = set()
        for line_no, row in enumerate(reader, start=2):
            pair_id = (row.get("pair_id") or "").strip()
            if not pair_id.isdigit():
                raise DataError(path, f"pair_id must be an integer, got {pair_id!r}", line_no)
            if pair_id in seen:
                raise DataError(path, f"duplicate pair_id {pair_id}", line_no)
            seen.add(pair_id)
            rows.append(row)
    return rows


def version_path(raw_dir: Path, file: str) -> Path:
    """Where a version file (`before_file` / `after_file` of the pair list) lies under `raw_dir`."""
    return Path(raw_dir) / OTA_SUBDIR / file


def load_ota_sentences(raw_dir: Path, pairs_path: Path | None = None) -> list[str]:
    """Every clause of every version file of the pair list (evaluation-only text: the dataset
    build drops train/validation clauses that match one). Read with newline translation, as the
    leakage check always has."""
    pairs_path = pairs_path or OTA_PAIRS
    files: set[str] = set()
    with pairs_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            files.update((row["before_file"], row["after_file"]))
    texts: list[str] = []
    for name in sorted(files):
        path = version_path(raw_dir, name)
        if path.is_file():
            texts += [c.text for c in segment_document(path.read_text(encoding="utf-8"), "md")[1]]
    return texts


def read_version(raw_dir: Path, file: str) -> str:
    """The exact text of a version file (bytes decoded as UTF-8, no newline translation, so that
    offsets index the file as stored)."""
    return _read_path(version_path(raw_dir, file))


def _read_path(path: Path) -> str:
    """Decode a file as UTF-8 exactly as stored; a clear error when missing or not text."""
    if not path.is_file():
        raise DataError(path, "version file not found (is RAW_DIR the raw data folder?)")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text (byte {err.start})") from None


@lru_cache(maxsize=8)
def _segment_version(path: Path, mtime_ns: int) -> tuple[str, tuple[Clause, ...]]:
    """Segment one file; `mtime_ns` is part of the cache key so an edited file is re-read."""
    prepared, clauses = segment_document(_read_path(path), "md")
    return prepared, tuple(clauses)


def segment_version(raw_dir: Path, file: str) -> tuple[str, tuple[Clause, ...]]:
    """Text and clauses of a version file (cached: consecutive pairs share versions)."""
    path = version_path(raw_dir, file)
    if not path.is_file():
        raise DataError(path, "version file not found (is RAW_DIR the raw data folder?)")
    return _segment_version(path, path.stat().st_mtime_ns)


def _unmatched(clauses: Iterable[Clause], other: Iterable[Clause]) -> list[Clause]:
    """Clauses whose normalised text occurs in no clause of `other`."""
    known = {normalize_text(c.text) for c in other}
    return [c for c in clauses if normalize_text(c.text) not in known]


def pair_changes(
    raw_dir: Path, pair_row: Mapping[str, str]
) -> tuple[list[ChangedClause], list[ChangedClause]]:
    """Added clauses (of the after version) and removed clauses (of the before version) of one
    pair, in document order."""
    pair_id = int(pair_row["pair_id"])
    before_file, after_file = pair_row["before_file"], pair_row["after_file"]
    _, before = segment_version(raw_dir, before_file)
    _, after = segment_version(raw_dir, after_file)
    added = [
        ChangedClause(pair_id, "added", after_file, c.start, c.end, c.text)
        for c in _unmatched(after, before)
    ]
    removed = [
        ChangedClause(pair_id, "removed", before_file, c.start, c.end, c.text)
        for c in _unmatched(before, after)
    ]
    return added, removed


def iter_candidates(raw_dir: Path, pairs: Iterable[Mapping[str, str]]) -> Iterator[dict]:
    """Every added or removed clause of every pair that mentions AI or data use, with its text
    (for the annotator; never committed)."""
    for row in pairs:
        added, removed = pair_changes(raw_dir, row)
        for clause in (*added, *removed):
            found = candidate_patterns(clause.text)
            if found:
                yield {
                    **asdict(clause),
                    "service": row["service"],
                    "document_type": row["document_type"],
                    "sha1": text_sha1(clause.text),
                    "patterns": list(found),
                }


def write_jsonl(rows: Iterable[dict], path: Path) -> int:
    """Write rows as JSONL (parent folders created); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _parse_label(item: object, path: Path, line_no: int) -> dict:
    """Check one label line's keys and values; returns it."""
    if not isinstance(item, dict):
        raise DataError(path, "each line must be a JSON object", line_no)
    for key in LABEL_KEYS:
        if key not in item:
            raise DataError(path, f"missing key {key!r}", line_no)
    if item["side"] not in SIDES:
        raise DataError(path, f"side must be one of {SIDES}, got {item['side']!r}", line_no)
    if item["ai_training"] not in (0, 1) or isinstance(item["ai_training"], bool):
        raise DataError(path, f"ai_training must be 0 or 1, got {item['ai_training']!r}", line_no)
    if item["direction"] not in DIRECTIONS:
        raise DataError(path, f"direction must be one of {DIRECTIONS}", line_no)
    for key in ("pair_id", "start", "end"):
        if not isinstance(item[key], int) or isinstance(item[key], bool) or item[key] < 0:
            raise DataError(path, f"{key} must be a non-negative integer", line_no)
    if item["start"] >= item["end"]:
        raise DataError(path, "start must be before end", line_no)
    return item


def _check_pair_file(
    item: dict, pairs: Mapping[int, Mapping[str, str]] | None, path: Path, line_no: int
) -> None:
    """The file of an added clause is the pair's after version; of a removed one, the before."""
    if pairs is None:
        return
    row = pairs.get(item["pair_id"])
    if row is None:
        raise DataError(path, f"unknown pair_id {item['pair_id']}", line_no)
    expected = row["after_file"] if item["side"] == "added" else row["before_file"]
    if item["file"] != expected:
        raise DataError(
            path,
            f"an {item['side']} clause of pair {item['pair_id']} lies in "
            f"{expected!r}, not {item['file']!r}",
            line_no,
        )


def load_ota_labels(path: Path, raw_dir: Path, pairs_path: Path | None = OTA_PAIRS) -> list[dict]:
    """Join the hand labels of `path` with the raw text. Each label's `sha1` must match the text
    at its offsets (a mismatch raises `DataError` naming the labels file and line). When
    `pairs_path` is given, each file must be the right version of its pair.

    Returns records {pair_id, side, file, start, end, text, ai_training, direction}."""
    pairs = None
    if pairs_path is not None:
        pairs = {int(r["pair_id"]): r for r in load_ota_pairs(pairs_path)}
    texts: dict[str, str] = {}
    seen: set[tuple] = set()
    records: list[dict] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = _parse_label(json.loads(line), path, line_no)
            except json.JSONDecodeError as err:
                raise DataError(path, f"malformed JSON: {err.msg}", line_no) from None
            _check_pair_file(item, pairs, path, line_no)
            key = (item["pair_id"], item["side"], item["file"], item["start"], item["end"])
            if key in seen:
                raise DataError(path, f"duplicate label for {key}", line_no)
            seen.add(key)
            if item["file"] not in texts:
                try:
                    texts[item["file"]] = read_version(raw_dir, item["file"])
                except DataError as err:
                    raise DataError(path, str(err), line_no) from None
            text = texts[item["file"]][item["start"] : item["end"]]
            if text_sha1(text) != item["sha1"]:
                raise DataError(
                    path,
                    f"text hash mismatch for {item['file']} [{item['start']}:{item['end']}]: "
                    "the raw file changed or the offsets are wrong",
                    line_no,
                )
            records.append(
                {k: item[k] for k in ("pair_id", "side", "file", "start", "end")}
                | {"text": text, "ai_training": item["ai_training"], "direction": item["direction"]}
            )
    return records
