"""Read labelled clauses from a user's JSONL or CSV file (or the built dataset's JSONL).

JSONL: one object per line with `text` and either `labels` + `label_mask` as 0/1 lists in
taxonomy order (the built dataset's format), or `labels` as a list of label names (then every
label counts as annotated unless `annotated` lists the ones that are).
CSV: a `text` column and one column per label holding 1, 0 or empty (empty = not annotated).

Both must be UTF-8. Every problem raises `DataError` naming the file and line:
`path:line: what is wrong; how to fix`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from train.errors import DataError
from train.jsonio import check_utf8, iter_jsonl
from train.taxonomy import Taxonomy

EXTRA_FIELDS = ("id", "source", "service", "document", "origin", "license")
ORIGINS = ("real", "team")
QUOTE_HINT = 'write any quote inside a quoted field as two quotes ("")'


def _kind(value: object) -> str:
    """How a JSON value reads in a message: "a list", "the string 'x'", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _origin(value: str, path: Path, line: int) -> str:
    if value not in ("", *ORIGINS):
        raise DataError(
            path,
            f"`origin` must be {' or '.join(ORIGINS)} (empty means real), got {value!r}; "
            "use `real` for text from a public source and `team` for text written by the team",
            line,
        )
    return value or "real"


# --- JSONL -------------------------------------------------------------------------------


def _name_list(item: dict, key: str, taxonomy: Taxonomy, path: Path, line: int) -> list[str]:
    """`item[key]` as a list of known label names; a string (or anything else) is refused, never
    read letter by letter."""
    values = item[key]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        got = _kind(values) if not isinstance(values, list) else "a list with non-names in it"
        example = f'["{values}"]' if values in taxonomy.names else '["data_sharing"]'
        raise DataError(
            path,
            f"`{key}` must be a list of label names, got {got}; write it as a list, e.g. {example}",
            line,
        )
    for name in values:
        if name not in taxonomy.names:
            raise DataError(
                path,
                f"unknown label {name!r} in `{key}`; use the taxonomy's labels "
                f"({', '.join(taxonomy.names)})",
                line,
            )
    return values


def _row_from_names(
    item: dict, taxonomy: Taxonomy, path: Path, line: int
) -> tuple[list[int], list[int]]:
    if "label_mask" in item:
        raise DataError(
            path,
            "`label_mask` goes with 0/1 `labels`, not with label names; "
            "list the annotated labels in `annotated` instead",
            line,
        )
    names = _name_list(item, "labels", taxonomy, path, line)
    if "annotated" in item:
        annotated = _name_list(item, "annotated", taxonomy, path, line)
        missing = [n for n in names if n not in annotated]
        if missing:
            raise DataError(
                path,
                f"label {missing[0]!r} is in `labels` but not in `annotated`, so it would be "
                "ignored; add it to `annotated`",
                line,
            )
    else:
        annotated = list(taxonomy.names)
    labels = [int(n in names) for n in taxonomy.names]
    mask = [int(n in annotated) for n in taxonomy.names]
    return labels, mask


def _check_vector(values, taxonomy: Taxonomy, path: Path, line: int, key: str) -> list[int]:
    how = f"give {len(taxonomy)} values of 0/1 in taxonomy order ({', '.join(taxonomy.names)})"
    if not isinstance(values, list):
        raise DataError(path, f"`{key}` must be a list of 0/1, got {_kind(values)}; {how}", line)
    if len(values) != len(taxonomy):
        raise DataError(
            path,
            f"`{key}` has {len(values)} values but the taxonomy has {len(taxonomy)} labels; {how}",
            line,
        )
    for name, v in zip(taxonomy.names, values, strict=True):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v not in (0, 1):
            raise DataError(
                path, f"`{key}` value for {name!r} must be 0 or 1, got {_kind(v)}; {how}", line
            )
    return [int(v) for v in values]


def _json_field(item: dict, key: str, path: Path, line: int) -> str:
    """An optional id/metadata field as a string ("" when absent or null)."""
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(
            path, f"`{key}` must be a string, got {_kind(value)}; write it as a JSON string", line
        )
    return str(value)


def read_jsonl(path: Path, taxonomy: Taxonomy) -> list[dict]:
    rows, seen = [], {}
    for line_no, item in iter_jsonl(path):
        if not isinstance(item, dict):
            raise DataError(
                path,
                f"each line must be a JSON object with `text` and `labels`, got {_kind(item)}; "
                'write one object per line, e.g. {"text": "...", "labels": ["data_sharing"]}',
                line_no,
            )
        text = item.get("text")
        if text is not None and not isinstance(text, str):
            raise DataError(
                path,
                f"`text` must be a string, got {_kind(text)}; write the clause as one JSON string",
                line_no,
            )
        if not text or not text.strip():
            raise DataError(
                path,
                "empty or missing `text`; give every line the clause as a `text` string",
                line_no,
            )
        if "labels" not in item:
            raise DataError(
                path,
                "missing `labels`; add a list of label names or of 0/1 in taxonomy order",
                line_no,
            )
        values = item["labels"]
        if not isinstance(values, list):
            example = f' ["{values}"]' if values in taxonomy.names else ""
            raise DataError(
                path,
                f"`labels` must be a list (of label names, or of 0/1), got {_kind(values)}; "
                f"write it as a list{example}",
                line_no,
            )
        if all(isinstance(v, str) for v in values):  # label names (or no label at all)
            labels, mask = _row_from_names(item, taxonomy, path, line_no)
        elif any(isinstance(v, str) for v in values):
            raise DataError(
                path,
                "`labels` mixes label names and numbers; use either label names or "
                f"{len(taxonomy)} values of 0/1",
                line_no,
            )
        else:
            if "annotated" in item:
                raise DataError(
                    path,
                    "`annotated` goes with label names in `labels`, not with 0/1 values; "
                    "give a 0/1 `label_mask` instead",
                    line_no,
                )
            labels = _check_vector(values, taxonomy, path, line_no, "labels")
            mask = _check_vector(
                item.get("label_mask", [1] * len(taxonomy)),
                taxonomy,
                path,
                line_no,
                "label_mask",
            )
        if "id" in item and item["id"] is not None:
            rid = _json_field(item, "id", path, line_no)
            if not rid.strip():
                raise DataError(
                    path, "empty `id`; give the clause an id or leave `id` out", line_no
                )
        else:
            rid = f"{path.stem}-{line_no}"
        extras = {k: _json_field(item, k, path, line_no) for k in EXTRA_FIELDS if k != "id"}
        _append_row(rows, seen, path, line_no, "clause", rid, text, labels, mask, extras)
    return rows


def _append_row(
    rows: list[dict],
    seen: dict[str, int],
    path: Path,
    line: int,
    unit: str,
    rid: str,
    text: str,
    labels: list[int],
    mask: list[int],
    extras: dict[str, str],
) -> None:
    """One dataset row, after the check both formats share: an id seen before is an error naming
    both lines (`unit`: what the format calls a record, "clause" or "row")."""
    if rid in seen:
        raise DataError(
            path,
            f"duplicate id {rid!r} (first on line {seen[rid]}); give every {unit} its own id",
            line,
        )
    seen[rid] = line
    row = {"id": rid, "text": text, "labels": labels, "label_mask": mask, **extras}
    row["origin"] = _origin(row["origin"].strip(), path, line)
    rows.append(row)


# --- CSV ---------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    """The file's physical lines (endings kept, as `csv` wants them); a byte that is not UTF-8
    raises `DataError` naming its line."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        lines = fh.readlines()
    for line_no, line in enumerate(lines, start=1):
        check_utf8(path, line_no, line)
    return lines


def _open_quotes(
    lines: list[str], first: int, last: int
) -> tuple[list[tuple[int, int] | None], tuple[int, int] | None]:
    """Follow the CSV quoting over lines `first`..`last` (1-based, inclusive), starting outside
    any field: for each line, the (line, column index) of the opening quote of the quoted field
    still open at its start (None when none is), and that of the quote still open after `last`."""
    open_at: list[tuple[int, int] | None] = []
    in_quotes, at_field_start, opener = False, True, None
    for line_no in range(first, last + 1):
        open_at.append(opener if in_quotes else None)
        line = lines[line_no - 1]
        at_field_start = at_field_start or not in_quotes
        j = 0
        while j < len(line):
            c = line[j]
            if in_quotes:
                if c == '"':
                    if line.startswith('"', j + 1):
                        j += 1
                    else:
                        in_quotes = False
            elif c == '"' and at_field_start:
                in_quotes, opener = True, (line_no, j)
            at_field_start = not in_quotes and c in ",\r\n"
            j += 1
    return open_at, opener if in_quotes else None


def _csv_error(path: Path, lines: list[str], start: int, err: csv.Error, at: int) -> DataError:
    """`DataError` for a `csv.Error` raised while reading the record that starts on line `start`
    (the reader had consumed `at` lines), pointing at the quote that caused it."""
    open_at, still_open = _open_quotes(lines, start, at)
    opener = open_at[-1]  # the quoted field running into line `at`, if any
    message = str(err)
    if "unexpected end of data" in message and still_open is not None:
        return DataError(
            path,
            "the quote that opens a field on this line is never closed, so the rest of the file "
            f"was read as one field; add the closing quote and {QUOTE_HINT}",
            still_open[0],
        )
    if "expected after" in message and opener is not None:
        return DataError(
            path,
            f"the quote that opens a field on this line closes only on line {at}, so the lines "
            f"between were read as one field; add the missing closing quote and {QUOTE_HINT}",
            opener[0],
        )
    if "expected after" in message:
        return DataError(
            path,
            f"text follows the closing quote of a quoted field; {QUOTE_HINT} "
            "or leave the field unquoted",
            at,
        )
    if "field larger than field limit" in message and opener is not None:
        return DataError(
            path,
            f"the quoted field that opens on this line runs past line {at} and "
            f"{csv.field_size_limit()} characters; add its missing closing quote and {QUOTE_HINT}",
            opener[0],
        )
    return DataError(path, f"malformed CSV ({message}); check the quoting of this row", at)


def _csv_records(path: Path, lines: list[str]):
    """(first line, last line, fields) for each non-blank CSV record; strict quoting, with
    errors pointing at the line where the offending quote opened."""
    reader = csv.reader(lines, strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _csv_error(path, lines, start, err, reader.line_num) from None
        end = reader.line_num
        if fields:
            yield start, end, fields
        start = end + 1


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _looks_like_row(fields: list[str], width: int, text_col: int, label_cols: list[int]) -> bool:
    """Whether fields read from one physical line make a complete row: the header's width,
    some text, and 0/1/empty in every label column with at least one 0 or 1."""
    if len(fields) != width or not fields[text_col].strip():
        return False
    values = [fields[i].strip() for i in label_cols]
    return all(v in ("", "0", "1") for v in values) and any(values)


def _check_swallowed_rows(path, lines, start, end, width, text_col, label_cols) -> None:
    """Refuse a record (lines `start`..`end`) with a quoted field over several lines that
    swallowed rows, the mark of an unterminated quote that a later quote closed: its opening
    line reads as a complete row when the quote is taken as text and the rest of the line holds
    further columns, or a line wholly inside the field reads as a complete row."""
    if end == start or not label_cols:
        return
    open_at, _ = _open_quotes(lines, start, end)
    spans: dict[tuple[int, int], list[int]] = {}  # opening quote -> the lines it runs into
    for line_no, opener in enumerate(open_at, start=start):
        if opener is not None:
            spans.setdefault(opener, []).append(line_no)
    for (open_line, col), inside in spans.items():
        first = lines[open_line - 1]
        before = _fields(first[:col])[:-1] if col else []  # the columns left of the quote
        after = _fields(first[col + 1 :])
        candidates = [before + after] if len(after) > 1 else []
        candidates += [_fields(lines[k - 1]) for k in inside[:-1]]  # not the closing line
        if any(_looks_like_row(c, width, text_col, label_cols) for c in candidates):
            raise DataError(
                path,
                f"the quote that opens a field on this line closes only on line {inside[-1]} "
                "and the lines in between read as rows of their own, so a closing quote is "
                f"probably missing; add it where the field should end and {QUOTE_HINT}",
                open_line,
            )


def _check_header(path: Path, columns: list[str], taxonomy: Taxonomy) -> None:
    if "text" not in columns:
        other = next(
            (sep for sep in (";", "\t", "|") if len(columns) == 1 and sep in columns[0]), None
        )
        hint = (
            f"the header is one column holding {other!r}: save the file comma-separated"
            if other
            else "add a header row naming the `text` column and the label columns"
        )
        raise DataError(path, f"needs a `text` column; {hint}", 1)
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DataError(path, f"column(s) {twice} appear twice in the header; keep one of each", 1)
    unknown = [c for c in columns if c not in taxonomy.names and c not in (*EXTRA_FIELDS, "text")]
    if unknown:
        raise DataError(
            path,
            f"unknown column(s) {unknown}; label columns must be taxonomy labels ({', '.join(taxonomy.names)})",
            1,
        )


def read_csv(path: Path, taxonomy: Taxonomy) -> list[dict]:
    lines = _read_lines(path)
    records = _csv_records(path, lines)
    _, _, columns = next(records, (1, 1, []))
    _check_header(path, columns, taxonomy)
    width, text_col = len(columns), columns.index("text")
    label_cols = [columns.index(n) for n in taxonomy.names if n in columns]
    rows, seen = [], {}
    for start, end, fields in records:
        _check_swallowed_rows(path, lines, start, end, width, text_col, label_cols)
        if len(fields) != width:
            where = (
                f" and a quoted field runs on to line {end}; check that the quote opened on "
                "this line is closed where the field should end"
                if end > start
                else f"; quote text that holds commas and give every row all {width} columns"
            )
            raise DataError(
                path,
                f"this row has {len(fields)} fields but the header has {width} columns{where}",
                start,
            )
        row = dict(zip(columns, fields, strict=True))
        text = row["text"].strip()
        if not text:
            raise DataError(
                path, "empty `text`; give every row a clause in the `text` column", start
            )
        labels, mask = [], []
        for name in taxonomy.names:
            value = (row.get(name) or "").strip()
            if value not in ("", "0", "1"):
                raise DataError(
                    path,
                    f"column {name!r} must be 1, 0 or empty, got {value!r}; write 1 (applies), "
                    "0 (does not apply) or leave it empty (not annotated)",
                    start,
                )
            labels.append(int(value == "1"))
            mask.append(int(value != ""))
        # Ids named after the record's last line, as before multi-line records were checked.
        rid = row.get("id") or f"{path.stem}-{end}"
        extras = {k: row.get(k) or "" for k in EXTRA_FIELDS if k != "id"}
        _append_row(rows, seen, path, start, "row", rid, text, labels, mask, extras)
    return rows


def read_clause_file(path: str | Path, taxonomy: Taxonomy) -> list[dict]:
    """Labelled clauses from `.jsonl` or `.csv`, as dataset rows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path, taxonomy)
    if path.suffix.lower() == ".csv":
        return read_csv(path, taxonomy)
    raise DataError(path, "expected a .jsonl or .csv file of labelled clauses")
