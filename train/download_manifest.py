"""The raw data's catalogue: the manifest (``data/sources.yaml``: which repository, commit and
path each local file under RAW_DIR comes from) and the checksum list (``data/checksums.sha256``:
every file with its sha256), read and checked, and the list regenerated from a complete local copy.

`train.download` fetches and verifies the files they describe.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import yaml

from train.errors import ConfigError
from train.paths import DATA_DIR

DEFAULT_MANIFEST = DATA_DIR / "sources.yaml"
DEFAULT_CHECKSUMS = DATA_DIR / "checksums.sha256"
DEFAULT_URL_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"

CHUNK_BYTES = 1 << 20

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_LAYOUTS = ("same", "document_versions")


class ManifestError(ConfigError):
    """The manifest or the checksum list is malformed or does not cover a file."""


# ---------------------------------------------------------------------------------------------
# Manifest: where each local file comes from
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoMapping:
    """Maps paths under a source folder to files of one repository.

    ``commit`` pins every file; alternatively ``commits`` gives each file its own commit (keyed by
    the path under the source folder), and then only the files it lists match.
    """

    repo: str
    local_prefix: str = ""
    repo_prefix: str = ""
    commit: str | None = None
    commits: dict[str, str] | None = None
    layout: str = "same"

    def resolve(self, rel_path: str) -> tuple[str, str] | None:
        """Return ``(commit, repository path)`` for a path under the source folder, or None."""
        if not rel_path.startswith(self.local_prefix):
            return None
        if self.commits is not None:
            commit = self.commits.get(rel_path)
            if commit is None:
                return None
        else:
            commit = self.commit
        repo_path = self.repo_prefix + rel_path[len(self.local_prefix) :]
        if self.layout == "document_versions":
            repo_path = _document_of_version(repo_path)
        return commit, repo_path


@dataclass(frozen=True)
class Source:
    """One raw source folder: its licence and the repositories its files come from."""

    name: str
    license: str
    url_template: str
    mappings: tuple[RepoMapping, ...]
    exclude: frozenset[str] = frozenset()

    def url_for(self, rel_path: str, base_url: str | None = None) -> str:
        """Return the download URL of a path under this source folder.

        ``base_url`` replaces the scheme and host of the template (a mirror or a test server).
        """
        for mapping in self.mappings:
            resolved = mapping.resolve(rel_path)
            if resolved is not None:
                commit, repo_path = resolved
                url = self.url_template.format(
                    repo=mapping.repo, commit=commit, path=quote(repo_path, safe="/")
                )
                return _rebase_url(url, base_url) if base_url else url
        raise ManifestError(
            f"{self.name}/{rel_path}: no mapping in the manifest says which repository it is from"
        )


def _document_of_version(repo_path: str) -> str:
    """``<Doc>/<version>.md`` -> ``<Doc>.md``: Open Terms Archive keeps one file per document."""
    path = PurePosixPath(repo_path)
    if path.parent == PurePosixPath("."):
        raise ManifestError(f"{repo_path}: a document version must sit in its document's folder")
    return f"{path.parent}{path.suffix}"


def _rebase_url(url: str, base_url: str) -> str:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return base_url.rstrip("/") + url[len(origin) :]


def load_manifest(path: str | Path = DEFAULT_MANIFEST) -> dict[str, Source]:
    """Read ``sources.yaml`` into ``{source name: Source}``; unknown keys are errors."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    _check_keys(data, {"url_template", "sources"}, str(path))
    default_template = data.get("url_template", DEFAULT_URL_TEMPLATE)
    sources = data.get("sources") or {}
    if not isinstance(sources, dict) or not sources:
        raise ManifestError(f"{path}: 'sources' must map source names to their origins")
    return {
        name: _parse_source(name, spec, default_template, path.parent)
        for name, spec in sources.items()
    }


def _parse_source(name: str, spec: dict, default_template: str, base_dir: Path) -> Source:
    where = f"source {name!r}"
    _check_keys(
        spec, {"repo", "commit", "license", "url_template", "prefix", "exclude", "mappings"}, where
    )
    if "license" not in spec:
        raise ManifestError(f"{where}: 'license' is required")
    if "mappings" in spec:
        if {"repo", "commit", "prefix"} & spec.keys():
            raise ManifestError(f"{where}: give either 'mappings' or repo/commit/prefix, not both")
        mapping_specs = spec["mappings"]
    else:
        mapping_specs = [{k: spec[k] for k in ("repo", "commit", "prefix") if k in spec}]
    mappings = tuple(
        _parse_mapping(m, f"{where} mapping {i}", base_dir) for i, m in enumerate(mapping_specs)
    )
    return Source(
        name=name,
        license=str(spec["license"]),
        url_template=spec.get("url_template", default_template),
        mappings=mappings,
        exclude=frozenset(spec.get("exclude", ())),
    )


def _parse_mapping(spec: dict, where: str, base_dir: Path) -> RepoMapping:
    _check_keys(spec, {"repo", "commit", "prefix", "layout", "commit_table"}, where)
    if "repo" not in spec:
        raise ManifestError(f"{where}: 'repo' is required")
    if ("commit" in spec) == ("commit_table" in spec):
        raise ManifestError(f"{where}: give exactly one of 'commit' and 'commit_table'")
    layout = spec.get("layout", "same")
    if layout not in _LAYOUTS:
        raise ManifestError(f"{where}: layout {layout!r} is not one of {_LAYOUTS}")
    prefix = spec.get("prefix") or {}
    _check_keys(prefix, {"local", "repo"}, f"{where} prefix")
    commit = spec.get("commit")
    if commit is not None:
        _check_commit(str(commit), where)
    commits = _load_commit_table(spec["commit_table"], where, base_dir) if commit is None else None
    return RepoMapping(
        repo=spec["repo"],
        local_prefix=prefix.get("local", ""),
        repo_prefix=prefix.get("repo", ""),
        commit=commit,
        commits=commits,
        layout=layout,
    )


def _load_commit_table(spec: dict, where: str, base_dir: Path) -> dict[str, str]:
    """Read ``{path under the source folder: commit}`` from a CSV beside the manifest."""
    _check_keys(spec, {"csv", "path_columns", "commit_columns"}, f"{where} commit_table")
    table_path = base_dir / spec["csv"]
    columns = list(zip(spec["path_columns"], spec["commit_columns"], strict=True))
    commits: dict[str, str] = {}
    with table_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {c for pair in columns for c in pair} - set(reader.fieldnames or ())
        if missing:
            raise ManifestError(f"{table_path}: missing column(s) {sorted(missing)}")
        for row in reader:
            for path_column, commit_column in columns:
                file_path, commit = row[path_column], row[commit_column]
                line_where = f"{table_path} line {reader.line_num}"
                _check_commit(commit, line_where)
                if commits.setdefault(file_path, commit) != commit:
                    raise ManifestError(f"{line_where}: {file_path} listed with two commits")
    return commits


def _check_keys(spec: object, allowed: set[str], where: str) -> None:
    if not isinstance(spec, dict):
        raise ManifestError(f"{where}: expected a mapping, got {type(spec).__name__}")
    unknown = set(spec) - allowed
    if unknown:
        raise ManifestError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )


def _check_commit(commit: str, where: str) -> None:
    # Branch names move; only a full commit id pins the bytes the checksums describe.
    if not _COMMIT_RE.match(commit):
        raise ManifestError(f"{where}: {commit!r} is not a full 40-character commit id")


# ---------------------------------------------------------------------------------------------
# Checksum list
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    """A file of the checksum list: path relative to RAW_DIR (POSIX) and its sha256."""

    path: str
    sha256: str

    @property
    def source(self) -> str:
        """The source folder the file belongs to."""
        return self.path.split("/", 1)[0]

    @property
    def rel_path(self) -> str:
        """The path under the source folder."""
        return self.path.split("/", 1)[1]


def read_checksums(path: str | Path = DEFAULT_CHECKSUMS) -> list[FileEntry]:
    """Parse a ``sha256sum``-format file (``<hex>  <path>``), checking every line."""
    path = Path(path)
    entries: dict[str, FileEntry] = {}
    with path.open(encoding="utf-8", newline="\n") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if not line:
                continue
            entry = _parse_checksum_line(line, f"{path} line {line_no}")
            if entry.path in entries:
                raise ManifestError(f"{path} line {line_no}: {entry.path} is listed twice")
            entries[entry.path] = entry
    return list(entries.values())


def _parse_checksum_line(line: str, where: str) -> FileEntry:
    # Text (" ") and binary ("*") modes of sha256sum both mean the same bytes here.
    digest, mode, file_path = line[:64], line[64:66], line[66:]
    if not _SHA256_RE.match(digest) or mode not in ("  ", " *"):
        raise ManifestError(f"{where}: expected '<64 hex digits>  <path>', got {line[:80]!r}")
    _check_relative_path(file_path, where)
    return FileEntry(path=file_path, sha256=digest)


def _check_relative_path(file_path: str, where: str) -> None:
    # The checksum list decides where files are written: never outside RAW_DIR.
    parts = file_path.split("/")
    if file_path.startswith("/") or "\\" in file_path or any(p in ("", ".", "..") for p in parts):
        raise ManifestError(f"{where}: {file_path!r} is not a plain relative path")
    if len(parts) < 2:
        raise ManifestError(f"{where}: {file_path!r} is not inside a source folder")


def file_sha256(path: str | Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def compute_checksums(
    raw_dir: str | Path, manifest: str | Path = DEFAULT_MANIFEST
) -> list[FileEntry]:
    """Hash every file of the manifest's sources under ``raw_dir``, sorted by path.

    Fails when a file has no mapping to a repository, so the list never holds a file that the
    downloader could not fetch.
    """
    raw_dir = Path(raw_dir)
    entries = []
    for source in load_manifest(manifest).values():
        folder = raw_dir / source.name
        if not folder.is_dir():
            raise ManifestError(f"{folder}: source folder is missing")
        for rel_path in _files_under(folder):
            if rel_path in source.exclude:
                continue
            source.url_for(rel_path)
            entries.append(FileEntry(f"{source.name}/{rel_path}", file_sha256(folder / rel_path)))
        _check_tables_present(source, folder)
    return sorted(entries, key=lambda entry: entry.path)


def _files_under(folder: Path) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            found.append((Path(root) / name).relative_to(folder).as_posix())
    return found


def _check_tables_present(source: Source, folder: Path) -> None:
    # A commit table naming a file that is not on disk would silently drop it from the list.
    for mapping in source.mappings:
        for rel_path in mapping.commits or {}:
            if rel_path.startswith(mapping.local_prefix) and not (folder / rel_path).is_file():
                raise ManifestError(f"{folder / rel_path}: listed in a commit table, not on disk")


def write_checksums(
    raw_dir: str | Path,
    output: str | Path = DEFAULT_CHECKSUMS,
    manifest: str | Path = DEFAULT_MANIFEST,
) -> int:
    """Regenerate the checksum list from a complete local copy; returns the number of files."""
    entries = compute_checksums(raw_dir, manifest)
    text = "".join(f"{entry.sha256}  {entry.path}\n" for entry in entries)
    with atomic_output(Path(output)) as out:
        out.write(text.encode("utf-8"))
    return len(entries)


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """Yield a temporary file that replaces ``path`` only if the block finishes without error."""
    # Same folder, so os.replace is an atomic rename; a random part keeps parallel runs apart.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as handle:
            yield handle
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def select_entries(entries: list[FileEntry], sources: Iterable[str] | None) -> list[FileEntry]:
    if sources is None:
        return entries
    wanted = set(sources)
    known = {entry.source for entry in entries}
    unknown = wanted - known
    if unknown:
        raise ManifestError(f"unknown source(s) {sorted(unknown)}; known: {sorted(known)}")
    return [entry for entry in entries if entry.source in wanted]
