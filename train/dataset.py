"""Build the clause dataset: raw sources -> records -> labels joined -> splits -> leakage checks
-> `datasets.DatasetDict`, JSONL copy, dataset card and statistics.

Run with `make data` (or `python -m train.dataset`). Same input, same bytes: the content hash
printed at the end changes only when the data does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from train import ota, sources
from train.dataset_outputs import (
    compute_stats,
    content_hash,
    dataset_features,
    labelled_document_stats,
    print_stats,
    write_jsonl_atomic,
)
from train.doc_labels import (
    DOCUMENT_LABELS,
    LABELLED_DOCUMENTS,
    agreement,
    load_labelled_document_records,
    load_manifest,
    record_id,
)
from train.errors import DataError
from train.language import detect_language, is_other_language
from train.leakage import NearDuplicateIndex, check_no_leakage, find_cross_split_collisions
from train.mining import (
    EXHAUSTIVE_AI_SOURCES,
    EXHAUSTIVE_LICENSE_SOURCES,
    LICENSE_NEGATIVE_SOURCES,
    MASKED_PATTERNS,
    MINED_LABELS,
    Candidate,
    HandLabel,
    Reference,
    candidate_agreement,
    load_mined_labels,
    patterns_matching,
)
from train.paths import DATA_DIR, default_raw_dir
from train.patterns import may_grant_content_rights, mentions_ai, mentions_content_license
from train.records import ClauseRecord
from train.segment import is_heading
from train.services import canonical_service
from train.splits import (
    FORCED_TEST_SERVICES,
    SERVICE_SPLITS,
    SPLIT_PRIORITY,
    SPLITS,
    assign_with_committed,
    load_service_splits,
    seeded_order,
    write_service_splits,
)
from train.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy
from train.textnorm import normalize_text, repair_text, text_sha1

TEAM_CLAUSE_FILES = ("team_clauses_ai.jsonl", "team_clauses_neg.jsonl")


@dataclass
class BuildConfig:
    """What to build and from where (every field has a command-line flag)."""

    raw_dir: Path = field(default_factory=default_raw_dir)
    output_dir: Path = DATA_DIR / "processed"
    taxonomy_path: Path = DEFAULT_TAXONOMY
    case_map_path: Path = sources.CASE_MAP
    mined_labels_path: Path = MINED_LABELS
    team_clause_paths: tuple[Path, ...] = tuple(DATA_DIR / n for n in TEAM_CLAUSE_FILES)
    ota_pairs_path: Path = ota.OTA_PAIRS
    # Committed service -> split table: listed services never move; new ones are assigned by the
    # same rule within their own source. `None` assigns every service from scratch.
    service_splits_path: Path | None = SERVICE_SPLITS
    # Add newly assigned services to that table (`--write-splits`), so they are frozen too.
    write_splits: bool = False
    exclude_licenses: tuple[str, ...] = ()
    seed: int = 13
    ratios: dict[str, float] = field(
        default_factory=lambda: {"train": 0.7, "validation": 0.1, "test": 0.2}
    )
    # Real corpus sentences that do not mention AI are known `ai_training` negatives (every one
    # that does is hand labelled); up to `corpus_negatives_per_doc` from each of this many
    # documents are sampled so the model sees ordinary real text (`sampled_document_clauses`).
    # Those a terms-change or data-practice pattern matches are labelled by hand for every label:
    # raising the counts adds sentences that stay masked for those labels until they are.
    # (150 documents each until the first 4,000 sampled sentences were labelled.)
    corpus_negative_docs: int = 250
    corpus_negatives_per_doc: int = 20
    # The same sampling over the 2026 Open Terms Archive documents (English ones only).
    ota_contrib_negative_docs: int = 250
    ota_contrib_negatives_per_doc: int = 20
    # Exhaustively labelled real documents (every clause, every label).
    labelled_documents_path: Path = LABELLED_DOCUMENTS
    document_labels_path: Path = DOCUMENT_LABELS


# ----------------------------------------------------------------------------- records


def _hand_labelled_document_clauses(
    raw_dir: Path, hand: dict, cfg: BuildConfig, exhaustive: set[str], stats: dict
) -> list[ClauseRecord]:
    """Clauses of whole documents (corpus, 2026 Open Terms Archive) labelled one by one in
    `mined_labels.jsonl` (every AI mention, for example), joined by their offsets into the
    segmenter's prepared text. Documents in `exhaustive` are labelled clause by clause elsewhere:
    their clause-level labels are superseded."""
    records: list[ClauseRecord] = []
    texts: dict[tuple[str, str], str] = {}
    superseded = 0
    for key, label in sorted(hand.items()):
        source, document, locator = key
        kind = sources.DOCUMENT_SOURCES.get(source)
        if kind is None:
            continue
        if document in exhaustive:
            superseded += 1
            continue
        path = kind.path_of(raw_dir, document)
        if not path.is_file():
            raise DataError(
                cfg.mined_labels_path, f"{source} document {document!r} not found in {raw_dir}"
            )
        if (source, document) not in texts:
            # Only the text the offsets index is needed: no sentence splitting.
            texts[(source, document)] = kind.prepared_text(path)
        start, end = (int(x) for x in locator.split(":"))
        text = texts[(source, document)][start:end]
        if text_sha1(text) != label.ref.sha1:
            raise DataError(
                cfg.mined_labels_path, f"text of {document} [{locator}] changed (hash mismatch)"
            )
        records.append(
            ClauseRecord(
                id=record_id(source, document, start, end),
                text=text,
                source=source,
                service=kind.service(path),
                document=document,
                license=sources.LICENSES[source],
                labels={n: int(n in label.labels) for n in label.checked},
            )
        )
    stats["mined_labels_superseded_by_document_labels"] = superseded
    return records


@dataclass(frozen=True)
class SampledClause:
    """A clause of the seeded sample of whole-document sentences (see `sampled_document_clauses`),
    with the clause before it in its document (context for the annotator)."""

    source: str
    document: str
    service: str
    start: int
    end: int
    text: str
    before: str = ""

    @property
    def id(self) -> str:
        return record_id(self.source, self.document, self.start, self.end)


def _sample_document(kind, path: Path, rng: random.Random, k: int) -> list[SampledClause]:
    """`k` clauses without AI mentions of one document, chosen by `rng`, in document order."""
    _, clauses = kind.segment(path)
    before = {c.start: (clauses[i - 1].text if i else "") for i, c in enumerate(clauses)}
    pool = [c for c in clauses if not mentions_ai(c.text)]
    document, service = kind.document_id(path), kind.service(path)
    return [
        SampledClause(kind.name, document, service, c.start, c.end, c.text, before[c.start])
        for c in sorted(rng.sample(pool, min(len(pool), k)), key=lambda c: c.start)
    ]


def sampled_document_clauses(cfg: BuildConfig, exhaustive: set[str]) -> Iterator[SampledClause]:
    """A seeded sample of sentences without AI mentions from the ToS;DR corpus and from English
    2026 Open Terms Archive documents (documents labelled whole are left out): known
    `ai_training` negatives (every AI mention of those sources is labelled by hand), so the model
    sees ordinary real Terms and policies. For the labels of `mining.MASKED_PATTERNS` they are
    negatives where the pattern does not match, otherwise hand labelled or masked."""
    raw_dir = cfg.raw_dir
    corpus = sources.DOCUMENT_SOURCES["tosdr_corpus_text"]
    rng = random.Random(cfg.seed)
    docs = sources.corpus_documents(raw_dir)
    for path in seeded_order(docs, cfg.seed, lambda p: p.name)[: cfg.corpus_negative_docs]:
        if path.name not in exhaustive:
            yield from _sample_document(corpus, path, rng, cfg.corpus_negatives_per_doc)
    if not (raw_dir / sources.OTA_CONTRIB).is_dir():
        return
    kind = sources.DOCUMENT_SOURCES[sources.OTA_CONTRIB]
    docs = sources.ota_contrib_documents(raw_dir, "current")
    rng = random.Random(cfg.seed)
    taken = 0
    for path in seeded_order(docs, cfg.seed, kind.document_id):
        if taken >= cfg.ota_contrib_negative_docs:
            break
        if kind.document_id(path) in exhaustive:
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        if detect_language(raw[:5000]) != "en":
            continue
        taken += 1
        yield from _sample_document(kind, path, rng, cfg.ota_contrib_negatives_per_doc)


def sampled_clause_candidates(cfg: BuildConfig, exhaustive: set[str]) -> Iterator[Candidate]:
    """The sampled sentences (`sampled_document_clauses`) that a pattern of
    `mining.MASKED_PATTERNS` matches, with the sentence before as context: hand labelled for every
    label, like every clause of a whole document."""
    for clause in sampled_document_clauses(cfg, exhaustive):
        found = patterns_matching(clause.text, clause.source)
        if found:
            locator = f"{clause.start}:{clause.end}"
            ref = Reference(clause.source, clause.document, locator, text_sha1(clause.text))
            yield Candidate(ref, clause.text, clause.service, found, clause.before)


def _corpus_records(
    hand: dict, cfg: BuildConfig, exhaustive: set[str], stats: dict
) -> tuple[list[ClauseRecord], set[tuple[str, str, str]]]:
    """Hand-labelled corpus and 2026 document clauses, plus the seeded sample of their sentences
    without AI mentions (`sampled_document_clauses`); a sampled sentence labelled by hand is the
    hand-labelled record (counted in `stats["sampled"]`). Returns the records and the hand-label
    keys of the sampled sentences."""
    records = _hand_labelled_document_clauses(cfg.raw_dir, hand, cfg, exhaustive, stats)
    taken = {r.id: r for r in records}
    sampled: Counter[str] = Counter()
    labelled: set[tuple[str, str, str]] = set()
    for clause in sampled_document_clauses(cfg, exhaustive):
        sampled[f"sentences:{clause.source}"] += 1
        if clause.id in taken:
            sampled[f"hand_labelled:{clause.source}"] += 1
            labelled.add((clause.source, clause.document, f"{clause.start}:{clause.end}"))
            sampled.update(f"positive:{n}" for n, v in taken[clause.id].labels.items() if v)
            continue
        records.append(
            ClauseRecord(
                id=clause.id,
                text=clause.text,
                source=clause.source,
                service=clause.service,
                document=clause.document,
                license=sources.LICENSES[clause.source],
                labels={"ai_training": 0},
            )
        )
    stats["sampled"] = dict(sorted(sampled.items()))
    return records, labelled


def apply_hand_labels(
    records: list[ClauseRecord], hand: dict[tuple[str, str, str], HandLabel], labels_path: Path
) -> dict[str, Counter[str]]:
    """Join hand labels to the records they reference, then unmask `ai_training` for sources whose
    AI mentions are all labelled, and `content_license` where a sentence cannot grant rights over
    user content; in CLAUDETTE also `terms_change` where a sentence cannot be about changing the
    terms, and the four data labels where it cannot state a data practice. An unlabelled AI
    mention (or, in CLAUDETTE, licence mention) stops the build; a CLAUDETTE terms-change or
    data-practice candidate with no hand label stays masked for those labels (the same for the
    sampled corpus and 2026 sentences). Returns how many candidates stayed masked, by pattern
    (`mining.MASKED_PATTERNS`: `terms_change`, `data`) and source."""
    missing = []
    unlabelled: dict[str, Counter[str]] = {name: Counter() for name in MASKED_PATTERNS}
    for record in records:
        label = hand.get((record.source, record.document, record.id))
        if label is not None:
            if text_sha1(record.text) != label.ref.sha1:
                raise DataError(labels_path, f"text of {record.id} changed since it was labelled")
            for name in label.checked:
                record.labels[name] = int(name in label.labels)
        if record.source in EXHAUSTIVE_AI_SOURCES and "ai_training" not in record.labels:
            if mentions_ai(record.text):
                missing.append(record.id)
            else:
                record.labels["ai_training"] = 0
        if record.source in LICENSE_NEGATIVE_SOURCES and "content_license" not in record.labels:
            if record.source in EXHAUSTIVE_LICENSE_SOURCES and mentions_content_license(
                record.text
            ):
                missing.append(record.id)
            elif not may_grant_content_rights(record.text):
                record.labels["content_license"] = 0
        for name, rule in MASKED_PATTERNS.items():
            if record.source not in rule.sources:
                continue
            undecided = [n for n in rule.labels if n not in record.labels]
            if undecided and rule.matches(record.text):
                unlabelled[name][record.source] += 1
            elif undecided:
                record.labels.update(dict.fromkeys(undecided, 0))
    if missing:
        raise DataError(
            labels_path,
            f"{len(missing)} sentence(s) mention AI (or, in CLAUDETTE, a content licence) but have "
            f"no hand label (first: {missing[:5]}); "
            "run scripts/mine_candidates.py and label them",
        )
    return unlabelled


def _label_negative_where(records: list[ClauseRecord], taxonomy: Taxonomy, rule) -> int:
    """Make every record whose text `rule` matches a negative for every label; returns how many
    records changed (full negatives are left alone, so the rule runs only on labelled text)."""
    changed = 0
    negative = {name: 0 for name in taxonomy.names}
    for record in records:
        if record.labels != negative and rule(record.text):
            record.labels = dict(negative)
            changed += 1
    return changed


def label_headings_negative(records: list[ClauseRecord], taxonomy: Taxonomy) -> int:
    """Headings state no practice (guideline): a record whose whole text is a heading ("What We
    Collect", "YOUR CHOICES") is a negative for every label, whatever its source mapped it to.
    Returns how many records changed."""
    return _label_negative_where(records, taxonomy, is_heading)


def label_other_languages_negative(records: list[ClauseRecord], taxonomy: Taxonomy) -> int:
    """Text in another language carries no label (guideline; the model reads English): a record
    confidently in another language (`language.is_other_language`) is a negative for every
    label. Returns how many records changed."""
    return _label_negative_where(records, taxonomy, is_other_language)


def collect_records(cfg: BuildConfig, taxonomy: Taxonomy, stats: dict) -> list[ClauseRecord]:
    """Every record from every source, hand labels joined, licence filter applied."""
    raw = cfg.raw_dir
    if not raw.is_dir():
        raise DataError(
            raw,
            "raw data folder not found: set RAW_DIR (e.g. RAW_DIR=../shared/data/raw) or run `make download`",
        )
    case_map = sources.load_case_map(cfg.case_map_path, taxonomy)
    hand = load_mined_labels(cfg.mined_labels_path, taxonomy)
    records: list[ClauseRecord] = []
    records += sources.load_tosdr_2021(raw, taxonomy, case_map, stats)
    records += sources.load_tosdr_2022(raw, taxonomy, case_map, stats)
    records += sources.load_claudette(raw, taxonomy, stats)
    records += sources.load_opp115(raw, taxonomy, stats)
    manifest = load_manifest(cfg.labelled_documents_path)
    exhaustive = {d.document for d in manifest}
    corpus, sampled = _corpus_records(hand, cfg, exhaustive, stats)
    records += corpus
    labelled = list(
        load_labelled_document_records(
            raw, taxonomy, cfg.labelled_documents_path, cfg.document_labels_path
        )
    )
    stats["labelled_documents"] = {
        "documents": len({r.document for r in labelled}),
        "clauses": len(labelled),
        "chosen_not_yet_labelled": len(manifest) - len({r.document for r in labelled}),
    }
    records += labelled
    # After the corpus records too: their known negatives follow the same unmasking rules.
    for name, n in apply_hand_labels(records, hand, cfg.mined_labels_path).items():
        stats[f"{name}_candidates_unlabelled"] = dict(sorted(n.items()))
    stats["headings_made_negative"] = label_headings_negative(records, taxonomy)
    stats["other_languages_made_negative"] = label_other_languages_negative(records, taxonomy)
    team: Counter[str] = Counter()
    team_ids: dict[str, str] = {}
    shapes: Counter[str] = Counter()
    for path in cfg.team_clause_paths:
        for record in sources.load_team_clauses(path, taxonomy, team_ids, shapes):
            records.append(record)
            team["total"] += 1
            team.update(name for name, value in record.labels.items() if value)
            team["hard_negative"] += int(
                not record.labels.get("ai_training") and mentions_ai(record.text)
            )
    stats["team"] = dict(sorted(team.items()))
    stats["team_shapes"] = dict(sorted(shapes.items()))
    # Mojibake repaired after every label reference has been checked against the raw text.
    repaired = 0
    for record in records:
        fixed = repair_text(record.text)
        repaired += fixed != record.text
        record.text = fixed
    stats["mojibake_repaired"] = repaired
    # Pattern candidates only: the sampled sentences are counted in `stats["sampled"]`.
    stats["mined"] = _mined_stats({k: v for k, v in hand.items() if k not in sampled})
    seen: set[str] = set()
    for record in records:
        if record.id in seen:
            raise DataError(raw, f"duplicate clause id {record.id!r}")
        seen.add(record.id)
    excluded = set(cfg.exclude_licenses)
    kept = [r for r in records if r.license not in excluded and r.labels]
    stats["excluded_by_license"] = sum(r.license in excluded for r in records)
    return kept


def _mined_stats(hand: dict[tuple[str, str, str], HandLabel]) -> dict:
    counts: Counter[str] = Counter()
    for label in hand.values():
        if {"ai_training", "content_license"} & set(label.checked):
            counts["labelled"] += 1
        else:
            counts["labelled_other"] += 1
        for name in label.labels:
            counts[f"positive:{name}"] += 1
        # CLAUDETTE's terms-change and data-practice candidates (the sampled sentences of whole
        # documents are left out by the caller).
        for pattern, rule in MASKED_PATTERNS.items():
            if label.ref.source in rule.sources and set(rule.labels) <= set(label.checked):
                counts[f"{pattern}_labelled"] += 1
                for name in set(rule.labels) & set(label.labels):
                    counts[f"{pattern}_positive:{name}"] += 1
    return dict(sorted(counts.items()))


# ----------------------------------------------------------------------------- merging, splits


def merge_duplicates(records: list[ClauseRecord]) -> list[ClauseRecord]:
    """One record per (service, normalised text): labels of the copies are combined (a positive
    wins over a negative; a label annotated by any copy is annotated)."""
    merged: dict[tuple[str, str], ClauseRecord] = {}
    for record in records:
        key = (record.service, normalize_text(record.text))
        first = merged.get(key)
        if first is None:
            merged[key] = record
            continue
        for name, value in record.labels.items():
            first.labels[name] = max(first.labels.get(name, 0), value)
    return list(merged.values())


def _strata(records: list[ClauseRecord]) -> dict[str, str]:
    """A service's stratum is the source most of its clauses come from."""
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        by_source[r.service][r.source] += 1
    return {s: max(sorted(c), key=lambda k: c[k]) for s, c in by_source.items()}


def _assign(records: list[ClauseRecord], cfg: BuildConfig, stats: dict) -> dict[str, str]:
    sizes: Counter[str] = Counter(r.service for r in records)
    strata = _strata(records)
    forced = {s: "test" for s in FORCED_TEST_SERVICES if s in sizes}
    committed = load_service_splits(cfg.service_splits_path) if cfg.service_splits_path else {}
    for service in forced:
        if committed.get(service, "test") != "test":
            raise DataError(cfg.service_splits_path, f"{service!r} must be in the test split")
    split_of, new = assign_with_committed(
        dict(sizes), strata, cfg.ratios, cfg.seed, committed, forced
    )
    stats["services_newly_assigned"] = len(new)
    if new and cfg.service_splits_path:
        print(f"{len(new)} service(s) not in {cfg.service_splits_path.name}, assigned by rule")
        if cfg.write_splits:
            write_service_splits(
                cfg.service_splits_path,
                {**committed, **{s: split_of[s] for s in new}},
                strata,
            )
            print(f"added them to {cfg.service_splits_path}")
    return split_of


def resolve_leakage(
    records: list[ClauseRecord], split_of: dict[str, str], ota_texts: list[str], stats: dict
) -> dict[str, list[ClauseRecord]]:
    """Drop train/validation clauses that match an `ota_ai_changes` sentence, then keep each text
    in one split only (the higher-priority one), merging labels of exact copies."""
    ota = NearDuplicateIndex(ota_texts)
    flags = ota.matches([r.text for r in records])
    kept = []
    dropped_ota = Counter()
    for record, hit in zip(records, flags, strict=True):
        split = split_of[record.service]
        if hit and split != "test":
            dropped_ota[split] += 1
            continue
        kept.append(record)
    stats["dropped_matching_ota"] = dict(dropped_ota)

    # Exact copies across services: keep one, in the split that matters most.
    groups: dict[str, list[ClauseRecord]] = defaultdict(list)
    for record in kept:
        groups[normalize_text(record.text)].append(record)
    survivors = []
    dropped_exact = 0
    for group in groups.values():
        group.sort(key=lambda r: (-SPLIT_PRIORITY[split_of[r.service]], r.id))
        keep = group[0]
        for other in group[1:]:
            for name, value in other.labels.items():
                keep.labels[name] = max(keep.labels.get(name, 0), value)
            dropped_exact += 1
        survivors.append(keep)
    stats["dropped_exact_duplicates"] = dropped_exact

    by_id = {r.id: r for r in survivors}
    collisions = find_cross_split_collisions(_split_items(survivors, split_of))
    drop = set()
    for c in collisions:
        loser = c.id_a if SPLIT_PRIORITY[c.split_a] < SPLIT_PRIORITY[c.split_b] else c.id_b
        drop.add(loser)
    stats["dropped_near_duplicates"] = len(drop)
    splits: dict[str, list[ClauseRecord]] = {s: [] for s in SPLITS}
    for rid in sorted(by_id):
        if rid not in drop:
            record = by_id[rid]
            splits[split_of[record.service]].append(record)
    return splits


def _split_items(
    records: list[ClauseRecord], split_of: dict[str, str]
) -> dict[str, list[tuple[str, str]]]:
    items: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for r in sorted(records, key=lambda r: r.id):
        items[split_of[r.service]].append((r.id, r.text))
    return items


# ----------------------------------------------------------------------------- outputs


def build(cfg: BuildConfig) -> dict:
    """Build the dataset into `cfg.output_dir`; returns the statistics (with `content_hash`)."""
    from datasets import Dataset, DatasetDict

    from train.card import render_dataset_card

    t0 = time.time()
    taxonomy = load_taxonomy(cfg.taxonomy_path)
    stats: dict = {"source_stats": {}}
    print(f"reading sources from {cfg.raw_dir}", flush=True)
    records = collect_records(cfg, taxonomy, stats["source_stats"])
    for record in records:
        record.service = (
            record.service if record.origin == "team" else canonical_service(record.service)
        )
    records = merge_duplicates(records)
    split_of = _assign(records, cfg, stats)
    print(f"{len(records)} clauses from {len(split_of)} services; checking leakage", flush=True)
    splits = resolve_leakage(
        records, split_of, ota.load_ota_sentences(cfg.raw_dir, cfg.ota_pairs_path), stats
    )
    check_no_leakage({s: [(r.id, r.text) for r in recs] for s, recs in splits.items()})
    if any(r.service in FORCED_TEST_SERVICES for s in ("train", "validation") for r in splits[s]):
        raise RuntimeError("a Zoom clause reached train or validation")

    rows = {s: [r.to_row(taxonomy, r.service) for r in recs] for s, recs in splits.items()}
    stats["labelled_documents"] = labelled_document_stats(rows, cfg, taxonomy)
    stats["agreement"] = agreement(cfg.document_labels_path, taxonomy)
    stats["candidate_agreement"] = candidate_agreement(cfg.mined_labels_path, taxonomy)
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    jsonl_paths = [out / "jsonl" / f"{s}.jsonl" for s in SPLITS]
    for split, path in zip(SPLITS, jsonl_paths, strict=True):
        write_jsonl_atomic(path, rows[split])
    stats.update(
        splits=compute_stats(rows, taxonomy),
        content_hash=content_hash(jsonl_paths),
        taxonomy_version=taxonomy.version,
        label_names=list(taxonomy.names),
        exclude_licenses=list(cfg.exclude_licenses),
        licenses=sorted({r["license"] for split_rows in rows.values() for r in split_rows}),
    )
    staging = out / "dataset.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    features = dataset_features()
    columns = {s: {k: [r[k] for r in rows[s]] for k in features} for s in SPLITS}
    # One shard per split, also for an empty one (datasets writes no shard for 0 rows otherwise,
    # and load_from_disk then fails).
    DatasetDict({s: Dataset.from_dict(columns[s], features=features) for s in SPLITS}).save_to_disk(
        str(staging), num_shards={s: 1 for s in SPLITS}
    )
    shutil.rmtree(out / "dataset", ignore_errors=True)
    os.replace(staging, out / "dataset")
    (out / "stats.json").write_text(
        json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(render_dataset_card(stats, taxonomy), encoding="utf-8")
    print_stats(stats, taxonomy)
    print(f"built in {time.time() - t0:.0f}s -> {out}")
    print(f"content hash: {stats['content_hash']}")
    return stats


def main(argv: list[str] | None = None) -> dict:
    """Command line: `python -m train.dataset --raw-dir ... --exclude-licenses a,b`."""
    parser = argparse.ArgumentParser(description="Build the ClauseWatch clause dataset.")
    parser.add_argument(
        "--raw-dir", type=Path, default=default_raw_dir(), help="raw sources (RAW_DIR)"
    )
    parser.add_argument("--output-dir", type=Path, default=DATA_DIR / "processed")
    parser.add_argument(
        "--exclude-licenses",
        default=os.environ.get("EXCLUDE_LICENSES", ""),
        help="comma-separated licence ids to leave out, e.g. opp115-noncommercial,unknown",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--write-splits",
        action="store_true",
        help="add services that data/service_splits.csv does not list yet to it",
    )
    args = parser.parse_args(argv)
    cfg = BuildConfig(
        raw_dir=args.raw_dir,
        output_dir=args.output_dir,
        exclude_licenses=tuple(x.strip() for x in args.exclude_licenses.split(",") if x.strip()),
        seed=args.seed,
        write_splits=args.write_splits,
    )
    try:
        return build(cfg)
    except DataError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
