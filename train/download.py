"""Download the raw data sources from their public origins, verified by per-file checksums.

Every file under RAW_DIR is a byte-for-byte copy of a file in a public GitHub repository at a
pinned commit. ``data/sources.yaml`` (the manifest) says which repository, commit and path each
local file comes from; ``data/checksums.sha256`` lists every file with its sha256. The downloader
fetches only what is missing or wrong, so re-running it is cheap and an offline copy that is
already complete is never written to. Reading the manifest and the checksum list (and writing the
list) is `train.download_manifest`'s part.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import BinaryIO
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from tqdm import tqdm

from train.download_manifest import (
    CHUNK_BYTES,
    DEFAULT_CHECKSUMS,
    DEFAULT_MANIFEST,
    FileEntry,
    ManifestError,
    Source,
    atomic_output,
    file_sha256,
    load_manifest,
    read_checksums,
    select_entries,
)
from train.paths import default_raw_dir

USER_AGENT = "ClauseWatch-downloader/1"
# Statuses worth another try: rate limiting and server-side trouble. A 404 will not go away.
RETRYABLE_HTTP_STATUS = frozenset({408, 425, 429})
MAX_LISTED_FAILURES = 20


class DownloadError(RuntimeError):
    """Some files could not be downloaded or verified; ``failures`` maps path to reason."""

    def __init__(self, failures: dict[str, str], total: int) -> None:
        self.failures = dict(sorted(failures.items()))
        self.total = total
        super().__init__(_describe_failures(self.failures, total))


class FetchError(Exception):
    """One download attempt failed; ``retryable`` says whether trying again may help."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class ChecksumMismatchError(FetchError):
    """Downloaded bytes do not have the sha256 the checksum list expects."""

    def __init__(self, expected: str, actual: str) -> None:
        # A CDN can serve a stale or cut-off body, so a mismatch is worth one more try.
        super().__init__(f"checksum mismatch: expected sha256 {expected}, got {actual}", True)
        self.expected = expected
        self.actual = actual


# ---------------------------------------------------------------------------------------------
# Verification and download
# ---------------------------------------------------------------------------------------------


def verify_raw_dir(
    raw_dir: str | Path,
    sources: Iterable[str] | None = None,
    checksums: str | Path = DEFAULT_CHECKSUMS,
) -> dict:
    """Check that every listed file is present with the right sha256, without any network.

    Returns ``{"checked": int, "ok": [paths], "missing": [paths], "mismatched": [{"path",
    "expected", "actual"}]}``; the raw data is complete when ``missing`` and ``mismatched``
    are both empty.
    """
    raw_dir = Path(raw_dir)
    report: dict = {"checked": 0, "ok": [], "missing": [], "mismatched": []}
    for entry in select_entries(read_checksums(checksums), sources):
        report["checked"] += 1
        local = raw_dir / entry.path
        if not local.is_file():
            report["missing"].append(entry.path)
            continue
        actual = file_sha256(local)
        if actual == entry.sha256:
            report["ok"].append(entry.path)
        else:
            report["mismatched"].append(
                {"path": entry.path, "expected": entry.sha256, "actual": actual}
            )
    return report


def download_sources(
    raw_dir: str | Path,
    sources: Iterable[str] | None = None,
    manifest: str | Path = DEFAULT_MANIFEST,
    checksums: str | Path = DEFAULT_CHECKSUMS,
    base_url: str | None = None,
    workers: int = 8,
    retries: int = 2,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
) -> dict:
    """Fetch every listed file that is missing or wrong under ``raw_dir`` and verify it.

    Files already present with the right sha256 are kept untouched. Each download goes to a
    temporary file that replaces the target only once its sha256 matches, and is tried
    ``retries`` more times on network errors, server errors and mismatches.

    Returns ``{"downloaded": [paths], "present": [paths]}``. Raises ``DownloadError`` listing
    every file that still failed (a mismatch names the expected and the actual hash).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    raw_dir = Path(raw_dir)
    catalogue = load_manifest(manifest)
    entries = select_entries(read_checksums(checksums), sources)
    # Resolve every URL first so that a manifest gap fails before anything is fetched.
    jobs = [(entry, _url_of(entry, catalogue, base_url)) for entry in entries]

    report: dict = {"downloaded": [], "present": []}
    failures: dict[str, str] = {}
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(jobs), unit="file", desc="raw data") as bar,
    ):
        futures = {
            pool.submit(
                _ensure_file, raw_dir / entry.path, entry.sha256, url, retries, backoff_s, timeout_s
            ): (entry, url)
            for entry, url in jobs
        }
        for future in as_completed(futures):
            entry, url = futures[future]
            try:
                report[future.result()].append(entry.path)
            except FetchError as exc:
                failures[entry.path] = f"{exc} ({url})"
            bar.update(1)
            bar.set_postfix(
                downloaded=len(report["downloaded"]), failed=len(failures), refresh=False
            )
    if failures:
        raise DownloadError(failures, total=len(jobs))
    return {key: sorted(paths) for key, paths in report.items()}


def _url_of(entry: FileEntry, catalogue: dict[str, Source], base_url: str | None) -> str:
    source = catalogue.get(entry.source)
    if source is None:
        raise ManifestError(f"{entry.path}: source {entry.source!r} is not in the manifest")
    return source.url_for(entry.rel_path, base_url)


def _ensure_file(
    dest: Path, expected: str, url: str, retries: int, backoff_s: float, timeout_s: float
) -> str:
    """Return "present" if ``dest`` already matches, else download it and return "downloaded"."""
    try:
        if dest.is_file() and file_sha256(dest) == expected:
            return "present"
        dest.parent.mkdir(parents=True, exist_ok=True)
        _download_with_retries(url, dest, expected, retries, backoff_s, timeout_s)
    except OSError as exc:
        # Local trouble (read-only RAW_DIR, full disk): retrying the network would not help.
        raise FetchError(f"local file error: {exc}", retryable=False) from exc
    return "downloaded"


def _download_with_retries(
    url: str, dest: Path, expected: str, retries: int, backoff_s: float, timeout_s: float
) -> None:
    for attempt in range(retries + 1):
        try:
            _download_once(url, dest, expected, timeout_s)
            return
        except FetchError as exc:
            if not exc.retryable or attempt == retries:
                raise
            time.sleep(backoff_s * 2**attempt)


def _download_once(url: str, dest: Path, expected: str, timeout_s: float) -> None:
    """Stream ``url`` into a temporary file and move it onto ``dest`` if the sha256 matches."""
    with _open_url(url, timeout_s) as response, atomic_output(dest) as out:
        actual = _stream(response, out)
        if actual != expected:
            raise ChecksumMismatchError(expected, actual)


def _open_url(url: str, timeout_s: float) -> HTTPResponse:
    # urlopen would also read file: and ftp: URLs; a mistyped --base-url should fail loudly.
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"not an http(s) URL: {url}", retryable=False)
    request = Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310 (checked above)
    try:
        return urlopen(request, timeout=timeout_s)  # noqa: S310 (checked above)
    except HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in RETRYABLE_HTTP_STATUS
        raise FetchError(f"HTTP {exc.code} {exc.reason}", retryable) from exc
    except (URLError, HTTPException, OSError) as exc:
        raise FetchError(f"network error: {exc}", retryable=True) from exc


def _stream(response: HTTPResponse, out: BinaryIO) -> str:
    """Copy the response body into ``out`` and return its sha256."""
    digest = hashlib.sha256()
    while True:
        try:
            chunk = response.read(CHUNK_BYTES)
        except (HTTPException, OSError) as exc:
            # A connection cut mid-body is a network error; errors writing ``out`` stay OSErrors.
            raise FetchError(f"network error while reading: {exc}", retryable=True) from exc
        if not chunk:
            return digest.hexdigest()
        out.write(chunk)
        digest.update(chunk)


def _describe_failures(failures: dict[str, str], total: int) -> str:
    lines = [f"{len(failures)} of {total} raw data files failed:"]
    lines += _first_lines([f"  {path}: {reason}" for path, reason in failures.items()])
    lines.append("Files that were verified are kept; run again to retry the others.")
    return "\n".join(lines)


def _first_lines(lines: list[str]) -> list[str]:
    # Offline, every file fails: a screenful says what went wrong, the rest would bury it.
    if len(lines) <= MAX_LISTED_FAILURES:
        return lines
    return [*lines[:MAX_LISTED_FAILURES], f"  ... and {len(lines) - MAX_LISTED_FAILURES} more"]


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Download (or with ``--verify-only`` just check) the raw data; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--raw-dir", type=Path, default=default_raw_dir(shared_fallback=False), help="(env RAW_DIR)"
    )
    parser.add_argument(
        "--source", action="append", dest="sources", help="only this source (repeatable)"
    )
    parser.add_argument("--base-url", help="replaces https://raw.githubusercontent.com (mirrors)")
    parser.add_argument("--verify-only", action="store_true", help="check hashes, no network")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--checksums", type=Path, default=DEFAULT_CHECKSUMS)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)

    try:
        if args.verify_only:
            return _report_verification(verify_raw_dir(args.raw_dir, args.sources, args.checksums))
        report = download_sources(
            args.raw_dir,
            sources=args.sources,
            manifest=args.manifest,
            checksums=args.checksums,
            base_url=args.base_url,
            workers=args.workers,
        )
    except ManifestError as exc:
        parser.error(str(exc))
    except DownloadError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{args.raw_dir}: {len(report['downloaded'])} files downloaded, "
        f"{len(report['present'])} already present and verified"
    )
    return 0


def _report_verification(report: dict) -> int:
    problems = [f"  {path}: missing" for path in report["missing"]]
    problems += [
        f"  {m['path']}: expected sha256 {m['expected']}, got {m['actual']}"
        for m in report["mismatched"]
    ]
    if not problems:
        print(f"all {report['checked']} raw data files present and verified")
        return 0
    print(f"{len(problems)} of {report['checked']} raw data files are wrong:", file=sys.stderr)
    print("\n".join(_first_lines(problems)), file=sys.stderr)
    return 1
