"""Exhaustive document labelling: reading sheets, importing answers, agreement, adjudication.

  sheet BATCH       write data/work/labelling/BATCH.sheet.txt (clause ids and text; git-ignored)
  import BATCH FILE import an answer file for BATCH (`--second` for an independent second pass)
  agreement         Cohen's kappa per label over the double-labelled clauses (JSON)
  disagreements     list the clauses the two passes disagree on, with text, for adjudication
  adjudicate FILE   set final labels: lines `source<TAB>document<TAB>start:end<TAB>CODES`
  candidates        sheets of every pattern match (AI; in CLAUDETTE also content licence, terms
                    change and data practices) lacking a hand label it asks for, in batches, with
                    a git-ignored map of ids to references (`--pattern` for one pattern,
                    `--split` for the services of one split)
  import-candidates BATCH FILE   hand labels of a candidate batch -> data/mined_labels.jsonl
                    (`--second` for an independent second pass, kept for agreement)
  adjudicate-candidates FILE     settle candidate labels: lines
                    `source<TAB>document<TAB>locator<TAB>+CODE,-CODE[<TAB>note]`

A batch is a value of the `batch` column of data/labelled_documents.csv; BATCH may also be a
comma-separated list of documents' rows given as `source:document` (for a second pass).
"""

import argparse
import json
import sys
from pathlib import Path

from train.doc_labels import (
    DOCUMENT_LABELS,
    LABEL_CODES,
    LABELLED_DOCUMENTS,
    agreement,
    document_clauses,
    import_answers,
    load_document_labels,
    load_manifest,
    write_document_labels,
    write_sheet,
)
from train.errors import DataError
from train.mining import PATTERN_LABELS
from train.paths import REPO_ROOT, default_raw_dir
from train.splits import SPLITS
from train.taxonomy import load_taxonomy

WORK = REPO_ROOT / "data" / "work" / "labelling"
DOUBLE = REPO_ROOT / "data" / "double_labelled.txt"


def _pick(wanted: list[str], by_key: dict, manifest: Path, where: str = "") -> list:
    """The documents named in `wanted`, in that order; a name not in `manifest` is an error."""
    unknown = [x for x in wanted if x not in by_key]
    if unknown:
        raise SystemExit(f"error: {where}not in {manifest}: {unknown}")
    return [by_key[x] for x in wanted]


def _docs(batch: str, manifest: Path):
    docs = load_manifest(manifest)
    if batch.startswith("double:"):
        # The double-labelled documents, listed in data/double_labelled.txt (one id per line).
        wanted = [x for x in DOUBLE.read_text(encoding="utf-8").splitlines() if x.strip()]
        return _pick(wanted, {d.document: d for d in docs}, manifest, f"{DOUBLE}: ")
    chosen = [d for d in docs if d.batch == batch]
    if not chosen and ":" in batch:
        # `source:document` rows, comma-separated (documents relabelled outside their batch).
        wanted = [x.strip() for x in batch.split(",") if x.strip()]
        return _pick(wanted, {f"{d.source}:{d.document}": d for d in docs}, manifest)
    if not chosen:
        raise SystemExit(f"error: no document of {manifest} is in batch {batch!r}")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir(), help="(env RAW_DIR)")
    parser.add_argument("--manifest", type=Path, default=LABELLED_DOCUMENTS)
    parser.add_argument("--labels", type=Path, default=DOCUMENT_LABELS)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sheet")
    p.add_argument("batch")
    p.add_argument("--output", type=Path)
    p = sub.add_parser("import")
    p.add_argument("batch")
    p.add_argument("answers", type=Path)
    p.add_argument("--second", action="store_true", help="an independent second pass")
    p.add_argument("--partial", action="store_true", help="import the fully answered documents")
    p = sub.add_parser("check", help="check an answer file against its sheet (imports nothing)")
    p.add_argument("batch")
    p.add_argument("answers", type=Path)
    sub.add_parser("agreement")
    sub.add_parser("disagreements")
    p = sub.add_parser("candidates")
    p.add_argument("--batch-size", type=int, default=300)
    p.add_argument(
        "--pattern",
        choices=tuple(PATTERN_LABELS),
        help="only this pattern's candidates (batches named cand-<pattern>-NN)",
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        help="only candidates of services in this split (data/service_splits.csv)",
    )
    p = sub.add_parser("import-candidates")
    p.add_argument("batch")
    p.add_argument("answers", type=Path)
    p.add_argument(
        "--second",
        action="store_true",
        help="an independent second pass over a batch imported before (kept for agreement)",
    )
    p = sub.add_parser("adjudicate-candidates")
    p.add_argument("decisions", type=Path)
    p = sub.add_parser("adjudicate")
    p.add_argument("decisions", type=Path)
    args = parser.parse_args()
    taxonomy = load_taxonomy()
    try:
        if args.command == "sheet":
            out = args.output or WORK / f"{args.batch}.sheet.txt"
            n = write_sheet(args.raw_dir, _docs(args.batch, args.manifest), out)
            print(f"{out}: {n} clauses")
        elif args.command == "import":
            docs = _docs(args.batch, args.manifest)
            n = import_answers(
                args.raw_dir,
                docs,
                args.answers,
                taxonomy,
                args.labels,
                second_pass=args.second,
                partial=args.partial,
            )
            print(f"imported {n} clauses of {len(docs)} documents into {args.labels}")
        elif args.command == "check":
            from collections import Counter

            from train.doc_labels import parse_answers, sheet_ids

            ids = sheet_ids(args.raw_dir, _docs(args.batch, args.manifest))
            answers = parse_answers(args.answers, set(ids), allow_missing=True)
            counts = Counter(n for names, _ in answers.values() for n in names)
            print(f"{len(answers)} of {len(ids)} clauses answered; positives: {dict(counts)}")
            if len(answers) < len(ids):
                missing = [c for c in ids if c not in answers]
                print(f"not answered yet: {len(missing)} (first: {missing[:5]})")
                return 1
        elif args.command == "agreement":
            print(json.dumps(agreement(args.labels, taxonomy), indent=2))
        elif args.command == "disagreements":
            codes = {v: k for k, v in LABEL_CODES.items()}
            table = load_document_labels(args.labels, taxonomy)
            texts: dict = {}
            for key, row in sorted(table.items()):
                if "labels_b" not in row or set(row["labels_a"]) == set(row["labels_b"]):
                    continue
                source, document, locator = key
                if (source, document) not in texts:
                    texts[(source, document)] = {
                        c.locator: c.text for c in document_clauses(args.raw_dir, source, document)
                    }
                a = ",".join(codes[n] for n in row["labels_a"]) or "-"
                b = ",".join(codes[n] for n in row["labels_b"]) or "-"
                text = texts[(source, document)][locator].replace("\n", " / ")
                print(f"{source}\t{document}\t{locator}\tA={a}\tB={b}\t{text}")
        elif args.command == "candidates":
            from train.candidates import write_candidate_sheets

            batches = write_candidate_sheets(
                args.raw_dir, taxonomy, WORK, args.batch_size, args.pattern, split=args.split
            )
            for name, n in batches.items():
                print(f"{WORK / (name + '.sheet.txt')}: {n} clauses")
        elif args.command == "import-candidates":
            from train.candidates import import_candidate_answers

            n = import_candidate_answers(
                WORK, args.batch, args.answers, taxonomy, second=args.second
            )
            what = "second-pass labels" if args.second else "hand labels"
            print(f"imported {n} {what} into data/mined_labels.jsonl")
        elif args.command == "adjudicate-candidates":
            from train.candidates import adjudicate_candidates

            n = adjudicate_candidates(args.decisions, taxonomy)
            print(f"{n} hand-labelled reference(s) adjudicated in data/mined_labels.jsonl")
        elif args.command == "adjudicate":
            table = load_document_labels(args.labels, taxonomy)
            n = 0
            for line_no, line in enumerate(
                args.decisions.read_text(encoding="utf-8").splitlines(), 1
            ):
                if not line.strip() or line.startswith("//"):
                    continue
                parts = line.split("\t")
                if len(parts) < 4:
                    raise DataError(
                        args.decisions, "expected source, document, start:end, CODES", line_no
                    )
                key = tuple(parts[:3])
                if key not in table:
                    raise DataError(args.decisions, f"no labelled clause {key}", line_no)
                codes = parts[3].strip()
                names = [] if codes == "-" else [LABEL_CODES[c] for c in codes.upper().split(",")]
                table[key]["labels"] = sorted(names)
                if len(parts) > 4 and parts[4].strip():
                    table[key]["note"] = parts[4].strip()
                n += 1
            write_document_labels(list(table.values()), args.labels)
            print(f"{n} clause(s) adjudicated")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
