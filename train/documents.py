"""The inputs of batch inference: finding documents (files, folders recursively, globs; earlier
output folders, symlink loops and unsupported files are listed as skipped, never fatal),
reading them (binary, empty, unreadable and oversized files raise `SkipDocument`; encodings
are sniffed) and parsing clause files (`.jsonl` / `.csv` records of `id` and `text`)."""

from __future__ import annotations

import codecs
import csv
import glob
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from train.outputs import PARTS_DIR, RUN_FILE

logger = logging.getLogger("clausewatch.batch")


# Suffix -> format. Documents are segmented; clause files are scored record by record.
DOCUMENT_FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}
CLAUSE_FORMATS = {".jsonl": "jsonl", ".csv": "csv"}
SUPPORTED_SUFFIXES = {**DOCUMENT_FORMATS, **CLAUSE_FORMATS}
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # a "policy" this large is a data dump, not a document


_BINARY_MAGIC = {
    b"%PDF-": "PDF document",
    b"PK\x03\x04": "ZIP archive or Office document",
    b"\x89PNG": "PNG image",
    b"GIF8": "GIF image",
    b"\xff\xd8\xff": "JPEG image",
    b"\x1f\x8b": "gzip archive",
    b"\x7fELF": "executable",
    b"SQLite format 3": "SQLite database",
}
_BOMS = [
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
]


class SkipDocument(Exception):
    """A document that cannot be scored; the message is the reason listed in `skipped.csv`."""


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputDocument:
    """One input file: a document to segment or a file of clauses."""

    path: Path  # resolved, absolute
    doc_id: str  # what the outputs call it: the path relative to the working folder when inside it
    fmt: str

    @property
    def key(self) -> str:
        """Resume key: stable however the file was named on the command line."""
        return str(self.path)

    @property
    def is_clause_file(self) -> bool:
        return self.fmt in CLAUSE_FORMATS.values()


def _doc_id(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


OUTPUT_FOLDER_REASON = "earlier predict output folder (has run.json); its results are not inputs"


def _is_output_folder(folder: Path) -> bool:
    """A folder `predict` wrote into: its `run.json` is a run record (model fingerprint, labels,
    segmentation), or it holds `run.json` beside a `parts/` folder."""
    run = folder / RUN_FILE
    try:
        if not run.is_file():
            return False
        with run.open(encoding="utf-8", errors="replace") as fh:
            info = json.loads(fh.read(65536))
    except (OSError, ValueError):
        return (folder / PARTS_DIR).is_dir()
    keys = {"format", "fingerprint", "labels", "min_words"}
    return (isinstance(info, dict) and keys <= info.keys()) or (folder / PARTS_DIR).is_dir()


def _walk(folder: Path, exclude: Path | None, skipped: list[dict]) -> Iterator[Path]:
    """Files under `folder`, sorted, without hidden names, never descending into the current
    output folder (`exclude`, left out silently) or an earlier one (listed in `skipped`)."""
    for root, dirs, files in os.walk(folder):
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                continue
            sub = Path(root) / name
            if exclude is not None and sub.resolve() == exclude:
                continue
            if _is_output_folder(sub):
                skipped.append(skip_row(_doc_id(sub.resolve()), OUTPUT_FOLDER_REASON))
                logger.info("%s: %s", sub, OUTPUT_FOLDER_REASON)
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _glob_root(pattern: str) -> Path:
    """The folder a glob pattern starts from: its components before the first wildcard."""
    parts = Path(pattern).parts
    literal = []
    for part in parts:
        if glob.has_magic(part):
            break
        literal.append(part)
    return Path(*literal) if literal else Path(".")


def expand_inputs(
    inputs: Iterable[str | Path], exclude: Path | None = None
) -> tuple[list[InputDocument], list[dict]]:
    """Files, folders (recursively) and globs -> a sorted, de-duplicated list of documents, and
    the inputs that gave nothing (`{"path", "line", "reason"}` rows for `skipped.csv`). Anything
    under `exclude` (the output folder) is left out so outputs are never read back as inputs, and
    earlier output folders met while walking folders or matching globs are listed as skipped (a
    file named explicitly is read wherever it is)."""
    exclude = exclude.resolve() if exclude else None
    found: dict[Path, InputDocument] = {}
    skipped: list[dict] = []
    output_folders: dict[Path, bool] = {}

    def in_output_folder(path: Path, root: Path) -> bool:
        """Whether a folder between `root` (excluded) and `path` is an earlier output folder."""
        for parent in path.parents:
            if parent == root or root not in parent.parents:
                return False
            if parent not in output_folders:
                output_folders[parent] = _is_output_folder(parent)
                if output_folders[parent]:
                    skipped.append(skip_row(_doc_id(parent.resolve()), OUTPUT_FOLDER_REASON))
            if output_folders[parent]:
                return True
        return False

    def add(path: Path, explicit: bool) -> None:
        try:
            resolved = path.resolve(strict=True)
        except (RuntimeError, OSError) as err:
            # A symlink loop or a dangling link: listed, never fatal.
            reason = "symlink loop" if "loop" in str(err).lower() else f"unreadable: {err}"
            skipped.append(skip_row(_doc_id(path.absolute()), reason))
            return
        if exclude is not None and (resolved == exclude or exclude in resolved.parents):
            return
        fmt = SUPPORTED_SUFFIXES.get(resolved.suffix.lower())
        if fmt is None:
            if explicit or resolved.suffix:
                skipped.append(
                    skip_row(
                        _doc_id(resolved), f"unsupported file type {resolved.suffix or '(none)'!r}"
                    )
                )
            return
        found.setdefault(resolved, InputDocument(resolved, _doc_id(resolved), fmt))

    def add_folder(folder: Path) -> None:
        resolved = folder.resolve()
        if exclude is not None and resolved == exclude:
            logger.info("%s: the output folder itself, not read as input", folder)
            return
        if _is_output_folder(folder):
            skipped.append(skip_row(_doc_id(resolved), OUTPUT_FOLDER_REASON))
            return
        for child in _walk(folder, exclude, skipped):
            add(child, explicit=False)

    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            add_folder(path)
        elif path.exists():
            add(path, explicit=True)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                skipped.append(skip_row(text, "glob matched nothing"))
            root = Path(os.path.abspath(_glob_root(text)))
            for match in matches:
                m = Path(match)
                if in_output_folder(Path(os.path.abspath(m)), root):
                    continue
                if m.is_dir():
                    add_folder(m)
                else:
                    add(m, explicit=False)
        else:
            skipped.append(skip_row(text, "no such file or folder"))
    docs = sorted(found.values(), key=lambda d: d.doc_id)
    # Overlapping inputs (a folder and a glob inside it) meet the same skipped folder twice.
    unique = {(r["path"], r["line"], r["reason"]): r for r in reversed(skipped)}
    return docs, [r for r in skipped if unique.get((r["path"], r["line"], r["reason"])) is r]


def skip_row(path: str, reason: str, line: int | str = "") -> dict:
    return {"path": path, "line": line, "reason": reason}


# ---------------------------------------------------------------------------------------------
# Reading: binary and empty files, encodings
# ---------------------------------------------------------------------------------------------


def binary_reason(sample: bytes) -> str | None:
    for magic, kind in _BINARY_MAGIC.items():
        if sample.startswith(magic):
            return f"binary file ({kind})"
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return None  # UTF-16/32 text legitimately contains NUL bytes
    if b"\x00" in sample[:8192]:
        return "binary file (contains NUL bytes)"
    return None


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an undecodable byte under "surrogateescape"
_ASCII_BYTES = bytes(range(128))


def _utf8_damage(data: bytes, complete: bool = True) -> tuple[int, int]:
    """(invalid bytes, valid non-ASCII characters) of `data` read as UTF-8. A sample cut in the
    middle of a character (`complete=False`) does not count that character as invalid."""
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    text = decoder.decode(data, final=complete)
    bad = sum(1 for _ in _ESCAPED_BYTE.finditer(text))
    ascii_chars = len(data) - len(data.translate(None, _ASCII_BYTES))
    return bad, len(text) - ascii_chars - bad


def guess_encoding(data: bytes, complete: bool = True) -> tuple[str, str | None]:
    """(encoding, warning) to decode `data` with `errors="replace"`: UTF-8 (with or without BOM)
    when it decodes; UTF-8 too when it is mostly valid UTF-8 with a few invalid bytes (a stray
    byte must not turn every `’` of the document into `â€™`), with a warning counting the bytes
    replaced; else a fallback for text that is genuinely not UTF-8."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, None
    try:
        data.decode("utf-8")
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    bad, valid_non_ascii = _utf8_damage(data, complete)
    if not bad:
        return "utf-8", None  # only a sample cut in the middle of a character
    # Valid multi-byte sequences practically never occur by chance in single-byte code pages, so
    # as many of them as invalid bytes means UTF-8 with damage, not another encoding.
    if valid_non_ascii >= bad:
        plural = "byte" if bad == 1 else "bytes"
        return "utf-8", f"{bad} invalid UTF-8 {plural} replaced with U+FFFD (the rest is UTF-8)"
    # Mostly ASCII with a few high bytes is a Western code page: cp1252 (a superset of latin-1's
    # printable range) beats statistical detectors, which misread short Latin text (e.g. as
    # mac_latin2). Text that is largely non-ASCII (Cyrillic, CJK) goes to charset_normalizer.
    sample = data[:65536]
    ascii_share = sum(b < 0x80 for b in sample) / max(1, len(sample))
    encoding = None
    if ascii_share < 0.9:
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(data[:1_000_000]).best()
            encoding = best.encoding if best is not None else None
        except ImportError:  # pragma: no cover - charset_normalizer ships with requests
            encoding = None
    if encoding is None:
        try:
            data.decode("cp1252")
            encoding = "cp1252"
        except UnicodeDecodeError:
            encoding = "latin-1"
    return encoding, f"not valid UTF-8; decoded as {encoding}"


def _control_share(text: str) -> float:
    sample = text[:20000]
    if not sample:
        return 0.0
    bad = sum(
        1
        for ch in sample
        if (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v") or ch == "\ufffd"
    )
    return bad / len(sample)


@dataclass
class DocumentText:
    """A decoded document."""

    text: str
    encoding: str
    warning: str | None = None


def read_document(path: str | Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> DocumentText:
    """Read and decode a text document; raises `SkipDocument` (with the reason) for files that are
    empty, binary, unreadable or too large. Non-UTF-8 text is decoded with a fallback encoding
    and a warning."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkipDocument(f"too large ({size / 1e6:.1f} MB; limit {max_bytes / 1e6:.0f} MB)")
        data = path.read_bytes()
    except OSError as err:
        raise SkipDocument(f"unreadable: {err.strerror or err}") from None
    if not data.strip():
        raise SkipDocument("empty file" if not data else "empty file (whitespace only)")
    reason = binary_reason(data[:8192])
    if reason:
        raise SkipDocument(reason)
    encoding, warning = guess_encoding(data)
    text = data.decode(encoding, errors="replace")
    if not text.strip():
        raise SkipDocument("empty file (whitespace only)")
    if _control_share(text) > 0.1:
        raise SkipDocument("binary file (mostly control characters)")
    return DocumentText(text, encoding, warning)


# ---------------------------------------------------------------------------------------------
# Clause files: JSONL and CSV records
# ---------------------------------------------------------------------------------------------


def _invalid_character(text: str) -> str | None:
    """JSON may escape characters that are not text (`"\\ud800"`, a lone surrogate): no tokenizer
    can take them, so the record is skipped with a reason instead of stopping the run."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"`text` holds a character that is not valid Unicode text at position {err.start}"
    return None


def iter_jsonl_records(fh) -> Iterator[tuple[int, str | None, str | None, str | None]]:
    """(line, id, text, error) for each non-blank line."""
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError) as err:
            yield line_no, None, None, f"malformed JSON: {getattr(err, 'msg', err)}"
            continue
        if not isinstance(item, dict):
            yield line_no, None, None, "expected a JSON object with `id` and `text`"
            continue
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            yield line_no, None, None, "missing or empty `text`"
            continue
        bad = _invalid_character(text)
        if bad:
            yield line_no, None, None, bad
            continue
        rid = item.get("id")
        rid = None if rid is None else str(rid)  # 8 and "8" are the same id
        yield line_no, (rid if rid and rid.strip() else None), text, None


def _id_shape(rid: str) -> str:
    return re.sub(r"\d+", "0", rid.strip())


def _looks_like_rows(text: str, columns: list[str], rid: str) -> bool:
    """Whether the lines after the first of a multi-line field parse as rows of this file (as many
    fields as the header, and an id shaped like this record's, `c2` beside `c1`): the mark of a
    field whose closing quote is missing, swallowing the rows after it. Without an id column every
    such line must look like a row."""
    if len(columns) < 2:
        return False
    id_at = columns.index("id") if "id" in columns else None
    shape = _id_shape(rid) if rid.strip() else None

    def row_like(line: str) -> bool:
        try:
            fields = next(csv.reader([line]), [])
        except csv.Error:
            return False
        if len(fields) != len(columns):
            return False
        if id_at is None:
            return True
        candidate = fields[id_at].strip()
        if not candidate or any(ch.isspace() for ch in candidate):
            return False
        return shape is None or _id_shape(candidate) == shape

    lines = text.splitlines()[1:]
    if id_at is None:
        return bool(lines) and all(row_like(line) for line in lines)
    return any(row_like(line) for line in lines)


def iter_csv_records(fh) -> Iterator[tuple[int, str | None, str | None, str | None]]:
    """(line, id, text, error) for each record (line: where the record starts). Quotes are read
    strictly, so a field whose closing quote is missing is an error (listing the lines it took)
    instead of silently swallowing the rows after it into one clause."""
    reader = csv.DictReader(fh, strict=True)
    columns = reader.fieldnames or []
    if "text" not in columns:
        raise SkipDocument(f"no `text` column (columns: {', '.join(columns) or 'none'})")
    line_no = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            # The reader starts again on the line after the one it failed on.
            last = max(line_no, reader.reader.line_num)
            yield (
                line_no,
                None,
                None,
                f"malformed CSV record on lines {line_no}-{last} (unterminated quote?): {err}; "
                "those lines are not scored",
            )
            if reader.reader.line_num < line_no:  # no progress: never loop on one error
                return
            line_no = last + 1
            continue
        text = row.get("text")
        extra = [v for v in row.get(None) or [] if v.strip()]
        last = reader.line_num
        if extra:
            yield (
                line_no,
                None,
                None,
                f"{len(columns) + len(row[None])} fields where the header has {len(columns)} "
                "(unquoted comma in the text?)",
            )
        elif (
            last > line_no
            and isinstance(text, str)
            and _looks_like_rows(text, columns, row.get("id") or "")
        ):
            yield (
                line_no,
                None,
                None,
                f"record spans lines {line_no}-{last} and holds lines that look like rows "
                "(unterminated quote?); not scored",
            )
        elif not isinstance(text, str) or not text.strip():
            yield line_no, None, None, "missing or empty `text`"
        else:
            rid = (row.get("id") or "").strip()
            yield line_no, rid or None, text, None
        line_no = last + 1
