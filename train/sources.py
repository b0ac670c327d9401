"""One adapter per raw source: each turns its files into `ClauseRecord`s.

Sources and what they may label are described in DESIGN.md. An adapter only reads; it decides
nothing about splits or leakage.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bs4 import MarkupResemblesLocatorWarning

from train.errors import DataError
from train.paths import REPO_ROOT
from train.patterns import DATA_WORDS_PATTERN, EXCEPTION_PATTERN
from train.records import ClauseRecord
from train.segment import prepare_text, segment_document
from train.taxonomy import Taxonomy

CASE_MAP = REPO_ROOT / "data" / "tosdr_case_map.csv"

TEAM_LICENSE = "cc-by-4.0"  # clauses written for this project


def _licenses() -> dict[str, str]:
    """Licence id of every training source, read from the one licence table, the download
    manifest (`data/sources.yaml`); `ota_ai_changes` is evaluation-only and not listed."""
    from train.download_manifest import load_manifest
    from train.ota import OTA_SUBDIR

    table = {name: s.license for name, s in load_manifest().items() if name != OTA_SUBDIR}
    table["team"] = TEAM_LICENSE
    return table


LICENSES = _licenses()

# OPP-115 category -> taxonomy label. The five labels below are annotated on every OPP-115 segment.
OPP115_CATEGORIES = {
    "First Party Collection/Use": "data_collection",
    "Third Party Sharing/Collection": "data_sharing",
    "Data Retention": "data_retention",
    "Policy Change": "terms_change",
    "User Choice/Control": "user_control",
    "User Access, Edit and Deletion": "user_control",
}
OPP115_LABELS = sorted(set(OPP115_CATEGORIES.values()))
# "Third Party Sharing/Collection" also covers third parties collecting on the service itself
# (ad networks' cookies, web beacons): those annotations are collection as well as sharing.
OPP115_THIRD_PARTY_COLLECTS = {
    "Track on first party website/app",
    "Collect on first party website/app",
}

# CLAUDETTE tags that mean "the provider may change the terms unilaterally".
CLAUDETTE_TERMS_CHANGE_TAGS = {"ch2", "ch3"}

_WS = re.compile(r"\s+")


def clean_quote(html: str) -> str:
    """ToS;DR quotes carry HTML (`<p>`, `&nbsp;`): keep the visible text, whitespace folded."""
    with warnings.catch_warnings():
        # Many quotes are plain text that happens to look like a URL or file name.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        # Same rule as for documents: inline tags join their neighbours, block tags separate.
        text = prepare_text(html, "html")
    return _WS.sub(" ", text.replace("\xa0", " ")).strip()


CASE_SCOPES = ("", "denial", "off_topic")


@dataclass(frozen=True)
class CaseMapping:
    """Taxonomy labels a ToS;DR case proves (`positive`) or rules out (`negative`). `scope` limits
    the negatives: "denial" cases rule a label out only in quotes that state no exception,
    "off_topic" cases (liability, arbitration, refunds...) only in quotes that name no data."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]
    scope: str = ""


def load_case_map(path: str | Path, taxonomy: Taxonomy) -> dict[str, CaseMapping]:
    """Read the reviewed ToS;DR case table, keyed by case title (and by `id:<case_id>`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "ToS;DR case mapping table not found")
    table: dict[str, CaseMapping] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            title = (row.get("case_title") or "").strip()
            if not title:
                raise DataError(path, "empty case_title", line_no)
            labels = []
            for column in ("positive_labels", "negative_labels"):
                names = tuple(n.strip() for n in (row.get(column) or "").split(";") if n.strip())
                for name in names:
                    if name not in taxonomy.names:
                        raise DataError(path, f"unknown label {name!r} in {column}", line_no)
                labels.append(names)
            scope = (row.get("scope") or "").strip()
            if scope not in CASE_SCOPES:
                raise DataError(
                    path, f"unknown scope {scope!r} (expected one of {CASE_SCOPES[1:]})", line_no
                )
            mapping = CaseMapping(*labels, scope=scope)
            table[title] = mapping
            if (row.get("case_id") or "").strip():
                table[f"id:{row['case_id'].strip()}"] = mapping
    return table


def _case_labels(mapping: CaseMapping | None, text: str) -> dict[str, int] | None:
    """The labels a quote of this case carries; None when it carries none."""
    if mapping is None:
        return None
    negative = mapping.negative
    if mapping.scope == "denial" and EXCEPTION_PATTERN.search(text):
        negative = ()
    elif mapping.scope == "off_topic" and DATA_WORDS_PATTERN.search(text):
        negative = ()
    if not (mapping.positive or negative):
        return None
    labels = {name: 0 for name in negative}
    labels.update({name: 1 for name in mapping.positive})
    return labels


def _point_status(point: dict) -> str:
    """Reconstruct a 2021 point's status the way ToS;DR's own export wrote it."""
    meta = point.get("tosdr") or {}
    if meta.get("irrelevant"):
        return "declined"
    if "needModeration" not in point:
        return "nostatus"
    return "pending" if point["needModeration"] else "approved"


def _service_names_2021(root: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for path in sorted((root / "src" / "services").glob("*.json")):
        try:
            service = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(path, f"malformed JSON: {err.msg}", err.lineno) from None
        if isinstance(service, dict) and service.get("slug"):
            names[service["slug"]] = str(service.get("name") or service["slug"])
    return names


def load_tosdhr_cases(raw_dir: Path) -> dict[str, str]:
    """The tosdhr dump has no service names: use it only to recover case titles by quote text."""
    from train.textnorm import normalize_text

    path = raw_dir / "tosdr_api_2022_tosdhr" / "data.csv"
    cases: dict[str, str] = {}
    if not path.is_file():
        return cases
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="^")
        header = next(reader, None)
        if header is None or "case" not in header or "text" not in header:
            raise DataError(path, "expected columns `case` and `text`", 1)
        case_col, text_col = header.index("case"), header.index("text")
        for row in reader:
            if len(row) > max(case_col, text_col) and row[text_col].strip():
                cases.setdefault(normalize_text(clean_quote(row[text_col])), row[case_col].strip())
    return cases


def load_tosdr_2021(
    raw_dir: Path, taxonomy: Taxonomy, case_map: dict[str, CaseMapping] | None, stats: dict
) -> Iterator[ClauseRecord]:
    """ToS;DR 2021 points: approved and status-less points are positives for their case's labels;
    pending and declined points are not used. Other labels stay masked."""
    from train.textnorm import normalize_text

    root = raw_dir / "tosdr_org_2021"
    names = _service_names_2021(root)
    recovered_cases = None
    for path in sorted((root / "src" / "points").glob("*.json"), key=lambda p: p.stem.zfill(12)):
        try:
            point = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(path, f"malformed JSON: {err.msg}", err.lineno) from None
        text = clean_quote(point.get("quoteText") or "")
        if not text:
            continue
        status = _point_status(point)
        stats[f"tosdr_org_2021/{status}"] = stats.get(f"tosdr_org_2021/{status}", 0) + 1
        if status not in {"approved", "nostatus"}:
            continue
        case = ((point.get("tosdr") or {}).get("case") or "").strip()
        if not case:
            if recovered_cases is None:
                recovered_cases = load_tosdhr_cases(raw_dir)
            case = recovered_cases.get(normalize_text(text), "")
            if case:
                stats["tosdr_org_2021/case_recovered_from_tosdhr"] = (
                    stats.get("tosdr_org_2021/case_recovered_from_tosdhr", 0) + 1
                )
        # case_map=None lists every usable point (the miner needs them all, mapped or not).
        labels = {} if case_map is None else _case_labels(case_map.get(case), text)
        if labels is None:
            continue
        services = point.get("services") or []
        if not services:
            continue
        slug = sorted(services)[0]
        yield ClauseRecord(
            id=f"tosdr2021-{point.get('id') or path.stem}",
            text=text,
            source="tosdr_org_2021",
            service=names.get(slug, slug),
            document=str(point.get("quoteDoc") or ""),
            license=LICENSES["tosdr_org_2021"],
            labels=labels,
        )


def load_tosdr_2022(
    raw_dir: Path, taxonomy: Taxonomy, case_map: dict[str, CaseMapping] | None, stats: dict
) -> Iterator[ClauseRecord]:
    """ToS;DR 2022 `clean_point.csv`: approved points are positives for their case's labels."""
    root = raw_dir / "tosdr_phoenix_2022_dao" / "data"
    services: dict[str, str] = {}
    service_path = root / "service.csv"
    with service_path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            services[row["SERVICE_ID"]] = row["NAME"]
    path = root / "clean_data" / "clean_point.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            line_no = reader.line_num
            if row.get("TEXT") is None or row.get("STATUS") is None:
                raise DataError(path, "malformed row: missing TEXT or STATUS", line_no)
            status = row["STATUS"].strip().lower()
            stats[f"tosdr_phoenix_2022_dao/{status}"] = (
                stats.get(f"tosdr_phoenix_2022_dao/{status}", 0) + 1
            )
            if status != "approved":
                continue
            text = clean_quote(row["TEXT"])
            if case_map is None:
                labels = {}
            else:
                mapping = case_map.get(f"id:{row['CASE_ID'].strip()}") or case_map.get(
                    row["TITLE"].strip()
                )
                labels = _case_labels(mapping, text)
            if not text or labels is None:
                continue
            yield ClauseRecord(
                id=f"tosdr2022-{row['POINT_ID']}",
                text=text,
                source="tosdr_phoenix_2022_dao",
                service=services.get(row["SERVICE_ID"], f"tosdr-service-{row['SERVICE_ID']}"),
                document=f"doc-{row['DOC_ID']}",
                license=LICENSES["tosdr_phoenix_2022_dao"],
                labels=labels,
            )


def claudette_documents(raw_dir: Path) -> list[str]:
    """Names of the CLAUDETTE documents (one per service), sorted."""
    folder = raw_dir / "claudette_multilingual_en" / "corpus" / "sentences" / "en" / "original"
    return sorted(p.stem for p in folder.glob("*.txt"))


def read_claudette_document(raw_dir: Path, name: str) -> list[tuple[str, list[str]]]:
    """(sentence, tags) pairs of one CLAUDETTE document, line-aligned; blank sentences kept as ''."""
    corpus = raw_dir / "claudette_multilingual_en" / "corpus"
    sent_path = corpus / "sentences" / "en" / "original" / f"{name}.txt"
    tag_path = corpus / "tags" / "en" / "original" / f"{name}.txt"
    sentences = sent_path.read_text(encoding="utf-8").split("\n")
    tags = tag_path.read_text(encoding="utf-8").split("\n")
    if sentences and sentences[-1] == "":
        sentences.pop()
    if tags and tags[-1] == "":
        tags.pop()
    if len(tags) != len(sentences):
        raise DataError(
            tag_path,
            f"{len(tags)} tag lines for {len(sentences)} sentences in {sent_path.name}; "
            "the files must be line-aligned",
            min(len(tags), len(sentences)) + 1,
        )
    return [(s.strip(), t.split()) for s, t in zip(sentences, tags, strict=True)]


def load_claudette(raw_dir: Path, taxonomy: Taxonomy, stats: dict) -> Iterator[ClauseRecord]:
    """CLAUDETTE: a sentence tagged ch2/ch3 is a `terms_change` candidate (1, until its hand label
    in `data/mined_labels.jsonl` says otherwise: many are changes to the service). An untagged
    sentence carries no label here: CLAUDETTE tags the change clauses its annotators judged
    potentially unfair, not every sentence about changing the terms ("changes are effective when
    posted" is untagged), so the build decides it from the hand labels and the candidate pattern
    (`dataset.apply_hand_labels`)."""
    for name in claudette_documents(raw_dir):
        for index, (sentence, tags) in enumerate(read_claudette_document(raw_dir, name)):
            if not sentence:
                continue
            tagged = bool(CLAUDETTE_TERMS_CHANGE_TAGS.intersection(tags))
            yield ClauseRecord(
                id=f"claudette-{name}-{index}",
                text=sentence,
                source="claudette_multilingual_en",
                service=name,
                document=name,
                license=LICENSES["claudette_multilingual_en"],
                labels={"terms_change": 1} if tagged else {},
            )


def opp115_policies(raw_dir: Path) -> list[Path]:
    """The sanitised OPP-115 policy files, sorted."""
    return sorted((raw_dir / "opp115" / "OPP-115" / "sanitized_policies").glob("*.html"))


def read_opp115_segments(path: Path) -> list[str]:
    """Visible text of each `|||`-separated segment of a sanitised OPP-115 policy."""
    html = path.read_text(encoding="utf-8", errors="replace")
    return [clean_quote(segment) for segment in html.split("|||")]


def _opp115_categories(path: Path) -> dict[int, set[str]]:
    categories: dict[int, set[str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh), start=1):
            if len(row) < 6 or not row[4].strip().isdigit():
                raise DataError(
                    path, "expected annotation rows with segment_id and category", line_no
                )
            categories.setdefault(int(row[4]), set()).add(row[5].strip())
    return categories


def _opp115_value(attributes: dict, name: str) -> str:
    return str((attributes.get(name) or {}).get("value") or "")


# First-party annotations whose action and collection mode are both unspecified mostly mark
# segments that only describe a use ("we use your email to send offers"): they prove no collection.
_OPP115_UNSPECIFIED = {"", "Unspecified", "Other", "not-selected"}


def _opp115_segment_labels(path: Path) -> dict[int, dict[str, int]]:
    """Taxonomy labels per segment from the consolidated annotations, reading the attributes as
    well as the category: an annotation whose `Does/Does Not` is "Does Not" (a denial: "we do not
    collect ...") proves nothing; third-party tracking or collection on the service is
    `data_collection` too. Labels no annotation can settle stay masked (absent): collection in a
    segment whose only first-party annotations name neither an action nor a collection mode (use
    only), and `user_control` in "International and Specific Audiences" segments (state privacy
    rights are choices, children's sections are not)."""
    positives: dict[int, set[str]] = {}
    masked: dict[int, set[str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh), start=1):
            if len(row) < 7 or not row[4].strip().isdigit():
                raise DataError(
                    path, "expected annotation rows with segment_id and category", line_no
                )
            segment, category = int(row[4]), row[5].strip()
            try:
                attributes = json.loads(row[6]) if row[6].strip() else {}
            except json.JSONDecodeError as err:
                raise DataError(path, f"attributes are not JSON: {err.msg}", line_no) from None
            found = positives.setdefault(segment, set())
            unsure = masked.setdefault(segment, set())
            if category == "International and Specific Audiences":
                unsure.add("user_control")
            if (
                category not in OPP115_CATEGORIES
                or _opp115_value(attributes, "Does/Does Not") == "Does Not"
            ):
                continue
            if (
                category == "First Party Collection/Use"
                and _opp115_value(attributes, "Action First-Party") in _OPP115_UNSPECIFIED
                and _opp115_value(attributes, "Collection Mode") in _OPP115_UNSPECIFIED
            ):
                unsure.add("data_collection")
                continue
            found.add(OPP115_CATEGORIES[category])
            if (
                category == "Third Party Sharing/Collection"
                and _opp115_value(attributes, "Action Third Party") in OPP115_THIRD_PARTY_COLLECTS
            ):
                found.add("data_collection")
    return {
        segment: {
            name: int(name in found)
            for name in OPP115_LABELS
            if name in found or name not in masked[segment]
        }
        for segment, found in positives.items()
    }


def load_opp115(raw_dir: Path, taxonomy: Taxonomy, stats: dict) -> Iterator[ClauseRecord]:
    """OPP-115 segments with the consolidated (0.75) practice categories mapped to five labels."""
    consolidation = (
        raw_dir / "opp115" / "OPP-115" / "consolidation" / "threshold-0.75-overlap-similarity"
    )
    for path in opp115_policies(raw_dir):
        annotation_path = consolidation / f"{path.stem}.csv"
        if not annotation_path.is_file():
            stats["opp115/policies_without_annotations"] = (
                stats.get("opp115/policies_without_annotations", 0) + 1
            )
            continue
        segment_labels = _opp115_segment_labels(annotation_path)
        domain = path.stem.split("_", 1)[1] if "_" in path.stem else path.stem
        for index, text in enumerate(read_opp115_segments(path)):
            if not text:
                continue
            labels = segment_labels.get(index) or {name: 0 for name in OPP115_LABELS}
            yield ClauseRecord(
                id=f"opp115-{path.stem}-{index}",
                text=text,
                source="opp115",
                service=domain,
                document=path.stem,
                license=LICENSES["opp115"],
                labels=labels,
            )


def corpus_documents(raw_dir: Path) -> list[Path]:
    """The unlabelled ToS;DR corpus documents, sorted by file name."""
    return sorted((raw_dir / "tosdr_corpus_text" / "corpus" / "text").glob("*.txt"))


def corpus_service(path: Path) -> str:
    """Corpus files are named `<Service>_<Document title>.txt`."""
    return path.stem.split("_", 1)[0]


def segment_corpus_document(path: Path):
    """Prepared text and clauses of a corpus document (the offsets label references use)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    return segment_document(raw, "txt")


OTA_CONTRIB = "ota_contrib_2026"
OTA_CONTRIB_SNAPSHOTS = ("current", "2023-01-01")


def ota_contrib_documents(raw_dir: Path, snapshot: str = "current") -> list[Path]:
    """Open Terms Archive documents of one snapshot (`current` or `2023-01-01`), sorted; the
    layout is `<snapshot>/<Service>/<Document>.md`."""
    return sorted((raw_dir / OTA_CONTRIB / snapshot).glob("*/*.md"))


def ota_contrib_document_id(path: Path) -> str:
    """`<snapshot>/<Service>/<Document>.md`: unique within the source, stable across machines."""
    return "/".join(path.parts[-3:])


def ota_contrib_service(path: Path) -> str:
    return path.parent.name


@dataclass(frozen=True)
class DocumentSource:
    """A source of whole documents (no labels of its own): how to list, name and segment them."""

    name: str
    fmt: str

    def documents(self, raw_dir: Path) -> list[Path]:
        if self.name == OTA_CONTRIB:
            return ota_contrib_documents(raw_dir, "current") + ota_contrib_documents(
                raw_dir, "2023-01-01"
            )
        return corpus_documents(raw_dir)

    def document_id(self, path: Path) -> str:
        return ota_contrib_document_id(path) if self.name == OTA_CONTRIB else path.name

    def path_of(self, raw_dir: Path, document_id: str) -> Path:
        if self.name == OTA_CONTRIB:
            return raw_dir / OTA_CONTRIB / document_id
        return raw_dir / "tosdr_corpus_text" / "corpus" / "text" / document_id

    def service(self, path: Path) -> str:
        return ota_contrib_service(path) if self.name == OTA_CONTRIB else corpus_service(path)

    def prepared_text(self, path: Path) -> str:
        """The text clause offsets index (what `segment` returns first), without segmenting."""
        return prepare_text(path.read_text(encoding="utf-8", errors="replace"), self.fmt)

    def segment(self, path: Path):
        """Prepared text and clauses (the offsets label references use)."""
        raw = path.read_text(encoding="utf-8", errors="replace")
        return segment_document(raw, self.fmt)


DOCUMENT_SOURCES = {
    "tosdr_corpus_text": DocumentSource("tosdr_corpus_text", "txt"),
    OTA_CONTRIB: DocumentSource(OTA_CONTRIB, "md"),
}


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 file; a decoding error names the file and line."""
    data = path.read_bytes()
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        try:
            yield line_no, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(path, "not valid UTF-8", line_no) from None


def load_team_clauses(
    path: Path, taxonomy: Taxonomy, seen: dict[str, str] | None = None, shapes=None
) -> Iterator[ClauseRecord]:
    """Clauses written for this project: every label is annotated on every clause. `seen` maps ids
    to where they were first read, so a duplicate across files names both places; `shapes` (a
    Counter) counts the form each clause is written in (`shape`: "list_fragment", "table_cell",
    ...; "sentence" when not given)."""
    seen = {} if seen is None else seen
    for line_no, line in _lines(path):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(path, f"malformed JSON: {err.msg}", line_no) from None
        for key in ("id", "service", "text", "labels"):
            if key not in item:
                raise DataError(path, f"missing key {key!r}", line_no)
        if not str(item["text"]).strip():
            raise DataError(path, "empty text", line_no)
        if item["id"] in seen:
            raise DataError(
                path, f"duplicate id {item['id']!r} (first at {seen[item['id']]})", line_no
            )
        seen[item["id"]] = f"{path}:{line_no}"
        if shapes is not None:
            shapes[str(item.get("shape") or "sentence")] += 1
        for name in item["labels"]:
            if name not in taxonomy.names:
                raise DataError(path, f"unknown label {name!r}", line_no)
        yield ClauseRecord(
            id=f"team-{item['id']}",
            text=str(item["text"]).strip(),
            source="team",
            service=f"team:{item['service']}",
            document=str(item.get("sector", "")),
            license=LICENSES["team"],
            labels={name: int(name in item["labels"]) for name in taxonomy.names},
            origin="team",
        )
