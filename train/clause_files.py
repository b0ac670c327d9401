"""Read labelled clauses from a user's JSONL or CSV file (or the built dataset's JSONL).

JSONL: one object per line with `text` and either `labels` + `label_mask` as 0/1 lists in
taxonomy order (the built dataset's format), or `labels` as a list of label names (then every
label counts as annotated unless `annotated` lists the ones that are).
CSV: a `text` column and one column per label holding 1, 0 or empty (empty = not annotated).
"""

from __future__ import annotations

import csv
from pathlib import Path

from train.errors import DataError
from train.jsonio import iter_jsonl
from train.taxonomy import Taxonomy

EXTRA_FIELDS = ("id", "source", "service", "document", "origin", "license")


def _row_from_names(
    item: dict, taxonomy: Taxonomy, path: Path, line: int
) -> tuple[list[int], list[int]]:
    names = item["labels"]
    annotated = item.get("annotated", list(taxonomy.names))
    for name in [*names, *annotated]:
        if name not in taxonomy.names:
            raise DataError(
                path, f"unknown label {name!r} (known: {', '.join(taxonomy.names)})", line
            )
    labels = [int(n in names) for n in taxonomy.names]
    mask = [int(n in annotated) for n in taxonomy.names]
    return labels, mask


def _check_vector(values, taxonomy: Taxonomy, path: Path, line: int, key: str) -> list[int]:
    if (
        not isinstance(values, list)
        or len(values) != len(taxonomy)
        or any(v not in (0, 1) for v in values)
    ):
        raise DataError(
            path, f"`{key}` must be {len(taxonomy)} values of 0/1 in taxonomy order", line
        )
    return [int(v) for v in values]


def read_jsonl(path: Path, taxonomy: Taxonomy) -> list[dict]:
    rows, seen = [], set()
    for line_no, item in iter_jsonl(path):
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            raise DataError(path, "empty or missing `text`", line_no)
        if "labels" not in item:
            raise DataError(path, "missing `labels`", line_no)
        if not isinstance(item["labels"], list):
            raise DataError(path, "`labels` must be a list (of label names, or of 0/1)", line_no)
        if item["labels"] and isinstance(item["labels"][0], str) or item["labels"] == []:
            labels, mask = _row_from_names(item, taxonomy, path, line_no)
        else:
            labels = _check_vector(item["labels"], taxonomy, path, line_no, "labels")
            mask = _check_vector(
                item.get("label_mask", [1] * len(taxonomy)),
                taxonomy,
                path,
                line_no,
                "label_mask",
            )
        rid = str(item.get("id", f"{path.stem}-{line_no}"))
        if rid in seen:
            raise DataError(path, f"duplicate id {rid!r}", line_no)
        seen.add(rid)
        row = {"id": rid, "text": str(item["text"]), "labels": labels, "label_mask": mask}
        row.update({k: str(item.get(k, "")) for k in EXTRA_FIELDS if k != "id"})
        row["origin"] = row["origin"] or "real"
        rows.append(row)
    return rows


def read_csv(path: Path, taxonomy: Taxonomy) -> list[dict]:
    rows, seen = [], set()
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        if "text" not in columns:
            raise DataError(path, "needs a `text` column", 1)
        unknown = [
            c for c in columns if c not in taxonomy.names and c not in (*EXTRA_FIELDS, "text")
        ]
        if unknown:
            raise DataError(
                path,
                f"unknown column(s) {unknown}: label columns must be taxonomy labels ({', '.join(taxonomy.names)})",
                1,
            )
        for row in reader:
            line_no = reader.line_num
            text = (row.get("text") or "").strip()
            if not text:
                raise DataError(path, "empty `text`", line_no)
            labels, mask = [], []
            for name in taxonomy.names:
                value = (row.get(name) or "").strip()
                if value not in ("", "0", "1"):
                    raise DataError(
                        path, f"column {name!r} must be 1, 0 or empty, got {value!r}", line_no
                    )
                labels.append(int(value == "1"))
                mask.append(int(value != ""))
            rid = row.get("id") or f"{path.stem}-{line_no}"
            if rid in seen:
                raise DataError(path, f"duplicate id {rid!r}", line_no)
            seen.add(rid)
            out = {"id": rid, "text": text, "labels": labels, "label_mask": mask}
            out.update({k: str(row.get(k) or "") for k in EXTRA_FIELDS if k != "id"})
            out["origin"] = out["origin"] or "real"
            rows.append(out)
    return rows


def read_clause_file(path: str | Path, taxonomy: Taxonomy) -> list[dict]:
    """Labelled clauses from `.jsonl` or `.csv`, as dataset rows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.suffix == ".jsonl":
        return read_jsonl(path, taxonomy)
    if path.suffix == ".csv":
        return read_csv(path, taxonomy)
    raise DataError(path, "expected a .jsonl or .csv file of labelled clauses")
