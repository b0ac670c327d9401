"""The committed, resumable results of a predict run. Each chunk is committed under `OUT/parts/`
as two files: its clause records, then a `.done.json` marker listing the units it finished; a
part without its marker does not count. A rerun checks the output folder belongs to the same
model and segmentation, removes what a kill left half-written, and yields only the units of
documents that are not complete."""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from train.documents import InputDocument
from train.errors import RunError
from train.outputs import (
    CLAUSES_FILE,
    DOCUMENTS_FILE,
    PARTS_DIR,
    REPORT_FILE,
    RUN_FILE,
    SKIPPED_FILE,
    write_atomic,
)
from train.predict_units import WorkUnit, clause_file_units, file_stamp, text_units

logger = logging.getLogger("clausewatch.batch")


def unit_summary(unit: WorkUnit, flags: list[list[int]], lang: dict[str, int]) -> dict:
    counts = [int(sum(col)) for col in zip(*flags, strict=True)] if flags else []
    return {
        "key": unit.doc.key,
        "block": unit.block,
        "last": unit.last,
        "stamp": unit.stamp,
        "fmt": unit.doc.fmt,
        "clauses": len(unit.clauses),
        "flagged": sum(1 for row in flags if any(row)),
        "counts": counts,
        "lang": lang,
        "encoding": unit.encoding,
        "warnings": unit.warnings,
        "note": unit.note,
        "skipped": unit.skipped,
        "skip_reason": unit.skip_reason,
    }


def commit_part(parts_dir: Path, name: str, records: list[dict], units: list[dict]) -> None:
    """Clause records first, then the marker that makes them count."""
    write_atomic(
        parts_dir / f"{name}.jsonl",
        lambda fh: fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
    )
    write_atomic(parts_dir / f"{name}.done.json", lambda fh: json.dump({"units": units}, fh))


Done = dict[str, dict[int, tuple[str, dict]]]  # doc key -> block -> (part name, unit summary)


def load_done(parts_dir: Path) -> Done:
    """Every committed unit, by document and block; when a unit was committed twice, the newest
    part (names start with a timestamp) wins."""
    done: Done = {}
    for marker in sorted(parts_dir.glob("*.done.json")):
        name = marker.name[: -len(".done.json")]
        try:
            units = json.loads(marker.read_text(encoding="utf-8"))["units"]
        except (OSError, ValueError, KeyError):
            logger.warning("%s: unreadable part marker, its documents will be scored again", marker)
            continue
        for u in units:
            done.setdefault(u["key"], {})[u["block"]] = (name, u)
    return done


def completed_blocks(done: Done, key: str, stamp: str) -> dict[int, tuple[str, dict]]:
    """The committed blocks of one document that match its current contents."""
    return {b: e for b, e in done.get(key, {}).items() if e[1]["stamp"] == stamp}


def is_complete(doc: InputDocument, blocks: dict[int, tuple[str, dict]]) -> bool:
    """All of a document is committed: a skip, or every block up to the last one (a document
    committed whole by an earlier version is one block, marked last)."""
    if 0 in blocks and blocks[0][1].get("skip_reason"):
        return True
    last = [b for b, (_, u) in blocks.items() if u["last"]]
    return bool(last) and all(b in blocks for b in range(last[0] + 1))


def _remove_orphans(parts_dir: Path) -> None:
    """Parts whose marker never got written (killed in between), stray temporary files and
    process markers of earlier sessions."""
    for path in parts_dir.iterdir():
        name = path.name
        if (name.startswith(".") and name.endswith(".tmp")) or name.startswith(
            ("_failed-", "_finished-")
        ):
            path.unlink(missing_ok=True)
        elif path.suffix == ".jsonl" and not path.with_name(path.stem + ".done.json").exists():
            path.unlink(missing_ok=True)


def prepare_run(output_dir: Path, run_info: dict, overwrite: bool) -> dict:
    """Create the output folder and check that an earlier partial run used the same model,
    backend and segmentation; returns the run record (with a fresh session id)."""
    parts = output_dir / PARTS_DIR
    run_path = output_dir / RUN_FILE
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        if overwrite:
            shutil.rmtree(parts, ignore_errors=True)
            for name in (CLAUSES_FILE, DOCUMENTS_FILE, SKIPPED_FILE, REPORT_FILE, RUN_FILE):
                (output_dir / name).unlink(missing_ok=True)
        elif run_path.exists():
            previous = json.loads(run_path.read_text(encoding="utf-8"))
            keys = (
                "fingerprint",
                "backend",
                "labels",
                "thresholds",
                "min_words",
                "max_chars",
                "format",
            )
            changed = [k for k in keys if previous.get(k) != run_info.get(k)]
            if changed:
                raise RunError(
                    f"{output_dir} holds results of another run (different {', '.join(changed)}: "
                    f"was {previous.get('model')} with backend {previous.get('backend')}); "
                    "pass --overwrite to start again, or choose another --output"
                )
        parts.mkdir(exist_ok=True)
        _remove_orphans(parts)
        for stray in output_dir.glob(".*.tmp"):  # a merge killed half-way (this run holds the lock)
            stray.unlink(missing_ok=True)
        record = {**run_info, "session": uuid.uuid4().hex}
        write_atomic(run_path, lambda fh: json.dump(record, fh, indent=2))
    except OSError as err:
        raise RunError(f"output path {output_dir}: {err}") from err
    except ValueError as err:
        raise RunError(f"{run_path}: unreadable ({err}); pass --overwrite to start again") from err
    return record


def iter_pending_units(
    docs: Sequence[InputDocument],
    done: Done,
    min_words: int,
    max_chars: int,
    block_size: int,
    max_bytes: int,
) -> Iterator[WorkUnit]:
    for doc in docs:
        stamp = file_stamp(doc.path)
        blocks = completed_blocks(done, doc.key, stamp)
        if is_complete(doc, blocks):
            continue
        if doc.is_clause_file:
            yield from clause_file_units(doc, stamp, set(blocks), block_size, max_bytes)
        else:
            yield from text_units(
                doc, stamp, set(blocks), min_words, max_chars, max_bytes, block_size
            )
