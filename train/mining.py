"""Find candidate sentences for hand labelling in the raw sources.

Candidates are every sentence that matches a committed pattern (`train.patterns`). Their hand
labels live in `data/mined_labels.jsonl` as references (source, document, locator, text hash);
the text itself is joined from the raw files at build time and never committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from tqdm.auto import tqdm

from train import sources
from train.doc_labels import pass_agreement
from train.errors import DataError
from train.jsonio import iter_jsonl
from train.paths import REPO_ROOT
from train.patterns import (
    mentions_ai,
    mentions_content_license,
    mentions_data_practice,
    mentions_terms_change,
)
from train.taxonomy import Taxonomy
from train.textnorm import text_sha1

MINED_LABELS = REPO_ROOT / "data" / "mined_labels.jsonl"
# Sources whose AI-pattern matches are all hand labelled: their other sentences are known
# `ai_training` negatives.
EXHAUSTIVE_AI_SOURCES = (
    "tosdr_org_2021",
    "tosdr_phoenix_2022_dao",
    "claudette_multilingual_en",
    "opp115",
    "tosdr_corpus_text",
    "ota_contrib_2026",
)
# Sources whose content-licence pattern matches are all hand labelled (the miner takes them).
EXHAUSTIVE_LICENSE_SOURCES = ("claudette_multilingual_en",)
# Sources that do not annotate `terms_change` (CLAUDETTE tags only the change clauses it judged
# unfair; the corpus and 2026 documents outside the labelled ones carry no annotation): a sentence
# of theirs that the terms-change pattern does not match is a known `terms_change` negative, one
# that matches stays masked until labelled by hand. For the whole-document sources this applies to
# the sampled sentences in the build (`dataset.sampled_document_clauses`), which are labelled for
# every label.
SAMPLED_DOCUMENT_SOURCES = ("tosdr_corpus_text", "ota_contrib_2026")
TERMS_CHANGE_MINED_SOURCES = ("claudette_multilingual_en", *SAMPLED_DOCUMENT_SOURCES)
# The same for the four data labels and the data-practice pattern: CLAUDETTE annotates unfair
# clauses, not data practices.
DATA_MINED_SOURCES = ("claudette_multilingual_en", *SAMPLED_DOCUMENT_SOURCES)
DATA_LABELS = ("data_collection", "data_sharing", "data_retention", "user_control")


class MaskedPattern(NamedTuple):
    """A candidate pattern mined in sources that do not annotate its labels: in those sources a
    sentence it does not match is a known negative for them, one it matches takes its hand labels
    or stays masked (`dataset.apply_hand_labels`)."""

    sources: tuple[str, ...]
    labels: tuple[str, ...]
    matches: Callable[[str], bool]


MASKED_PATTERNS = {
    "terms_change": MaskedPattern(
        TERMS_CHANGE_MINED_SOURCES, ("terms_change",), mentions_terms_change
    ),
    "data": MaskedPattern(DATA_MINED_SOURCES, DATA_LABELS, mentions_data_practice),
}
# Which labels a candidate pattern asks the annotator to decide, for records of labelled sources.
PATTERN_LABELS = {
    "ai": ("ai_training", "content_license"),
    "license": ("ai_training", "content_license"),
    **{name: rule.labels for name, rule in MASKED_PATTERNS.items()},
}
# Sources whose sentences carry no `content_license` annotation of their own: a sentence that cannot
# be a grant of rights over user content (`patterns.may_grant_content_rights` is False) is a known
# negative; one that could be and has no hand label stays masked.
LICENSE_NEGATIVE_SOURCES = (
    "claudette_multilingual_en",
    "opp115",
    "tosdr_corpus_text",
    "ota_contrib_2026",
)


@dataclass(frozen=True)
class Reference:
    """Where a labelled sentence lives: `locator` is a record id, or `start:end` in a document."""

    source: str
    document: str
    locator: str
    sha1: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.document, self.locator)


@dataclass(frozen=True)
class Candidate:
    ref: Reference
    text: str
    service: str
    patterns: tuple[str, ...]
    # The sentence before it in its document (record sources), shown to the annotator: "Such
    # changes take effect when posted" is about the terms only if the sentence before says so.
    context: str = ""

    def labels_to_decide(self, taxonomy: Taxonomy) -> tuple[str, ...]:
        """Every label for a clause of a whole document; for a record of a labelled source, the
        labels its patterns ask for (its source's own annotations of the others stand)."""
        if self.ref.source in sources.DOCUMENT_SOURCES:
            return tuple(taxonomy.names)
        wanted = {name for p in self.patterns for name in PATTERN_LABELS[p]}
        return tuple(name for name in taxonomy.names if name in wanted)


def patterns_matching(text: str, source: str) -> tuple[str, ...]:
    """The candidate patterns a sentence of `source` matches (`PATTERN_LABELS` names)."""
    found = []
    if mentions_ai(text):
        found.append("ai")
    if source in EXHAUSTIVE_LICENSE_SOURCES and mentions_content_license(text):
        found.append("license")
    found += [
        n for n, rule in MASKED_PATTERNS.items() if source in rule.sources and rule.matches(text)
    ]
    return tuple(found)


def iter_candidates(
    raw_dir: Path, taxonomy: Taxonomy, with_documents: bool = True
) -> Iterator[Candidate]:
    """Every sentence of the mined sources that matches the AI pattern (and, for CLAUDETTE,
    the content-licence, terms-change and data-practice patterns), in a fixed order; `with_documents=False`
    leaves out the whole-document sources (corpus, 2026 documents)."""
    stats: dict = {}
    record_sources = [
        sources.load_tosdr_2021(raw_dir, taxonomy, None, stats),
        sources.load_tosdr_2022(raw_dir, taxonomy, None, stats),
        sources.load_claudette(raw_dir, taxonomy, stats),
        sources.load_opp115(raw_dir, taxonomy, stats),
    ]
    for records in record_sources:
        previous = ("", "")  # (document, text) of the record before
        for record in records:
            found = patterns_matching(record.text, record.source)
            if found:
                ref = Reference(record.source, record.document, record.id, text_sha1(record.text))
                context = previous[1] if previous[0] == record.document else ""
                yield Candidate(ref, record.text, record.service, found, context)
            previous = (record.document, record.text)
    for name, kind in sources.DOCUMENT_SOURCES.items() if with_documents else ():
        paths = kind.documents(raw_dir)
        if name == sources.OTA_CONTRIB:
            paths = [p for p in paths if p.parts[-3] == "current"]  # training material only
        for path in tqdm(paths, desc=f"mining {name}", unit="doc"):
            # A sentence can only match if its document does: segment only those documents.
            if not mentions_ai(path.read_text(encoding="utf-8", errors="replace")):
                continue
            _, clauses = kind.segment(path)
            for clause in clauses:
                # Whole documents are mined for the AI pattern; their sampled sentences are the
                # candidates of the other patterns (`dataset.sampled_clause_candidates`).
                found = ("ai",) if mentions_ai(clause.text) else ()
                if found:
                    ref = Reference(
                        name,
                        kind.document_id(path),
                        f"{clause.start}:{clause.end}",
                        text_sha1(clause.text),
                    )
                    yield Candidate(ref, clause.text, kind.service(path), found)


def write_candidates(candidates: Iterator[Candidate], path: Path) -> int:
    """Write candidates (with their text, for the annotator) as JSONL; returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for candidate in candidates:
            row = {
                **asdict(candidate.ref),
                "service": candidate.service,
                "patterns": list(candidate.patterns),
                "context": candidate.context,
                "text": candidate.text,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


@dataclass(frozen=True)
class HandLabel:
    ref: Reference
    labels: tuple[str, ...]
    checked: tuple[str, ...]


def load_mined_labels(path: Path, taxonomy: Taxonomy) -> dict[tuple[str, str, str], HandLabel]:
    """Read the hand labels of mined sentences, checking label names and duplicates."""
    table: dict[tuple[str, str, str], HandLabel] = {}
    if not path.is_file():
        return table
    for line_no, item in iter_jsonl(path):
        try:
            ref = Reference(item["source"], item["document"], item["locator"], item["sha1"])
            labels, checked = tuple(item["labels"]), tuple(item["checked"])
        except KeyError as err:
            raise DataError(path, f"missing key {err.args[0]!r}", line_no) from None
        for name in (*labels, *checked):
            if name not in taxonomy.names:
                raise DataError(path, f"unknown label {name!r}", line_no)
        if not set(labels) <= set(checked):
            raise DataError(path, "a label must also be listed in `checked`", line_no)
        if ref.key in table:
            raise DataError(path, f"duplicate reference {ref.key}", line_no)
        table[ref.key] = HandLabel(ref, labels, checked)
    return table


MINED_FIELDS = ("source", "document", "locator", "sha1", "labels", "checked", "note")


def write_mined_labels(rows: list[dict], path: Path = MINED_LABELS) -> None:
    """Rewrite the hand-label file (one reference per line, fields in a fixed order), through a
    temporary file so that an interrupted write leaves the old file whole."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            # `double`: both passes of a reference labelled twice (`candidate_agreement`).
            fields = (*MINED_FIELDS, "double") if "double" in row else MINED_FIELDS
            fh.write(json.dumps({k: row[k] for k in fields}, ensure_ascii=False) + "\n")
    tmp.replace(path)


def candidate_agreement(labels_path: Path, taxonomy: Taxonomy) -> dict:
    """Cohen's kappa per label over the hand-labelled candidates labelled twice (the two passes
    as answered, before adjudication), for each label over the references double-labelled for it."""
    rows = [r for _, r in iter_jsonl(labels_path) if "double" in r] if labels_path.is_file() else []
    out: dict = {"sentences": len(rows), "labels": {}}
    for name in taxonomy.names:
        both = [r["double"] for r in rows if name in r["double"]["checked"]]
        if both:
            a = [int(name in d["a"]) for d in both]
            b = [int(name in d["b"]) for d in both]
            out["labels"][name] = {"sentences": len(both), **pass_agreement(a, b)}
    return out
