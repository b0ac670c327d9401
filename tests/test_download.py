"""Offline tests of the raw-data downloader against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import csv
import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from train.download import DownloadError, download_sources, main, verify_raw_dir
from train.download_manifest import (
    DEFAULT_CHECKSUMS,
    DEFAULT_MANIFEST,
    ManifestError,
    load_manifest,
    read_checksums,
    write_checksums,
)

COMMIT_A = "a" * 40
COMMIT_B = "b" * 40
COMMIT_V1 = "1" * 40
COMMIT_V2 = "2" * 40
COMMIT_META = "c" * 40

# (path relative to RAW_DIR, path on the server as {repo}/{commit}/{repo path}, content)
FILES = [
    ("alpha/README.md", f"org/alpha/{COMMIT_A}/README.md", b"alpha readme\n"),
    ("alpha/data/points.csv", f"org/alpha/{COMMIT_A}/data/points.csv", b"id,x\n1,2\n"),
    (
        "beta/OPP-115/sanitized policies/caf\u00e9.html",
        f"org/beta/{COMMIT_B}/OPP-115/sanitized policies/caf\u00e9.html",
        b"<p>policy</p>",
    ),
    # Two versions of one document: same repository path, different commits.
    (
        "versions/coll/Zoom/Terms of Service/2023-02-01_11111111.md",
        f"org/coll/{COMMIT_V1}/Zoom/Terms of Service.md",
        b"# Terms v1\n",
    ),
    (
        "versions/coll/Zoom/Terms of Service/2023-04-01_22222222.md",
        f"org/coll/{COMMIT_V2}/Zoom/Terms of Service.md",
        b"# Terms v2, with more\n",
    ),
    ("versions/coll/README.md", f"org/coll/{COMMIT_META}/README.md", b"collection readme\n"),
]

MANIFEST = f"""
url_template: "https://raw.githubusercontent.com/{{repo}}/{{commit}}/{{path}}"
sources:
  alpha:
    repo: org/alpha
    commit: {COMMIT_A}
    license: cc-by-4.0
    prefix: {{local: "", repo: ""}}
  beta:
    repo: org/beta
    commit: {COMMIT_B}
    license: opp115-noncommercial
    prefix: {{local: "OPP-115/", repo: "OPP-115/"}}
  versions:
    license: odc-by-1.0
    exclude: [pairs_index.csv]
    mappings:
      - repo: org/coll
        prefix: {{local: "coll/", repo: ""}}
        layout: document_versions
        commit_table:
          csv: pairs.csv
          path_columns: [before_file, after_file]
          commit_columns: [before_commit, after_commit]
      - repo: org/coll
        commit: {COMMIT_META}
        prefix: {{local: "coll/", repo: ""}}
"""

PAIRS = (
    "pair_id,before_commit,before_file,after_commit,after_file\n"
    f"1,{COMMIT_V1},coll/Zoom/Terms of Service/2023-02-01_11111111.md,"
    f"{COMMIT_V2},coll/Zoom/Terms of Service/2023-04-01_22222222.md\n"
)


class RecordingServer:
    """A static file server on 127.0.0.1 that records the decoded path of every GET."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self._lock = threading.Lock()
        handler = partial(self._handler_class(), directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval keeps shutdown (once per test) from costing half a second.
        serve = partial(self._httpd.serve_forever, poll_interval=0.01)
        self._thread = threading.Thread(target=serve, daemon=True)

    def _handler_class(self) -> type[SimpleHTTPRequestHandler]:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(unquote(self.path).lstrip("/"))
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        return Handler

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Manifest, checksum list and a server holding every file; yields (server, paths)."""
    # A proxy from the environment must not intercept requests to the local server.
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")

    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "sources.yaml").write_text(MANIFEST, encoding="utf-8")
    (meta / "pairs.csv").write_text(PAIRS, encoding="utf-8")

    # The checksum list is generated from a reference copy, as maintainers do.
    reference = tmp_path / "reference"
    for local, _, content in FILES:
        _write(reference / local, content)
    _write(reference / "versions/pairs_index.csv", b"made for the project, not downloaded\n")
    count = write_checksums(reference, meta / "checksums.sha256", meta / "sources.yaml")
    assert count == len(FILES)

    served = tmp_path / "server"
    for _, remote, content in FILES:
        _write(served / remote, content)

    with RecordingServer(served) as server:
        yield (
            server,
            {
                "raw": tmp_path / "raw",
                "manifest": meta / "sources.yaml",
                "checksums": meta / "checksums.sha256",
            },
        )


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _download(server: RecordingServer, paths: dict, **kwargs) -> dict:
    return download_sources(
        paths["raw"],
        manifest=paths["manifest"],
        checksums=paths["checksums"],
        base_url=server.base_url,
        workers=3,
        backoff_s=0.0,
        **kwargs,
    )


def _remote(local: str) -> str:
    return next(remote for path, remote, _ in FILES if path == local)


def test_checksum_list_is_sorted_sha256sum_format_without_excluded_files(setup) -> None:
    _, paths = setup
    lines = paths["checksums"].read_text(encoding="utf-8").splitlines()
    expected = [
        f"{hashlib.sha256(content).hexdigest()}  {local}" for local, _, content in sorted(FILES)
    ]
    assert lines == expected
    assert [entry.path for entry in read_checksums(paths["checksums"])] == sorted(
        local for local, _, _ in FILES
    )


def test_downloads_every_file_from_its_repository_commit_and_path(setup) -> None:
    server, paths = setup
    report = _download(server, paths)

    assert report == {"downloaded": sorted(local for local, _, _ in FILES), "present": []}
    for local, _, content in FILES:
        assert (paths["raw"] / local).read_bytes() == content
    # Each file fetched once, from the URL its mapping gives (per-file commits included).
    assert sorted(server.requests) == sorted(remote for _, remote, _ in FILES)
    assert verify_raw_dir(paths["raw"], checksums=paths["checksums"])["ok"] == sorted(
        local for local, _, _ in FILES
    )
    leftovers = [p.name for p in paths["raw"].rglob("*") if p.name.endswith(".part")]
    assert leftovers == []


def test_second_run_downloads_nothing(setup) -> None:
    server, paths = setup
    _download(server, paths)
    server.requests.clear()

    report = _download(server, paths)

    assert server.requests == []
    assert report == {"downloaded": [], "present": sorted(local for local, _, _ in FILES)}


def test_existing_correct_file_is_kept_and_wrong_one_replaced(setup) -> None:
    server, paths = setup
    kept, replaced = "alpha/README.md", "alpha/data/points.csv"
    _write(paths["raw"] / kept, b"alpha readme\n")
    _write(paths["raw"] / replaced, b"stale bytes")
    kept_inode = (paths["raw"] / kept).stat().st_ino

    report = _download(server, paths, sources=["alpha"])

    assert report == {"downloaded": [replaced], "present": [kept]}
    assert server.requests == [_remote(replaced)]
    assert (paths["raw"] / kept).stat().st_ino == kept_inode
    assert (paths["raw"] / replaced).read_bytes() == b"id,x\n1,2\n"


def test_corrupted_file_on_server_raises_naming_file_and_hashes(setup) -> None:
    server, paths = setup
    bad_local = "versions/coll/Zoom/Terms of Service/2023-04-01_22222222.md"
    good_content = b"# Terms v2, with more\n"
    corrupted = b"# Terms v2, tampered\n"
    _write(server.root / _remote(bad_local), corrupted)

    with pytest.raises(DownloadError) as caught:
        _download(server, paths, retries=2)

    message = str(caught.value)
    assert bad_local in message
    assert hashlib.sha256(good_content).hexdigest() in message
    assert hashlib.sha256(corrupted).hexdigest() in message
    assert list(caught.value.failures) == [bad_local]
    # Retried, then given up; no bad or partial file is left behind.
    assert server.requests.count(_remote(bad_local)) == 3
    assert not (paths["raw"] / bad_local).exists()
    assert list((paths["raw"] / bad_local).parent.iterdir()) == [
        paths["raw"] / "versions/coll/Zoom/Terms of Service/2023-02-01_11111111.md"
    ]
    # The other files still arrived.
    assert (paths["raw"] / "alpha/README.md").read_bytes() == b"alpha readme\n"


def test_missing_file_on_server_is_reported_without_retrying(setup) -> None:
    server, paths = setup
    missing = "beta/OPP-115/sanitized policies/caf\u00e9.html"
    (server.root / _remote(missing)).unlink()

    with pytest.raises(DownloadError) as caught:
        _download(server, paths, retries=2)

    assert list(caught.value.failures) == [missing]
    assert "HTTP 404" in caught.value.failures[missing]
    assert missing in str(caught.value)
    assert server.requests.count(_remote(missing)) == 1


def test_only_requested_sources_are_fetched(setup) -> None:
    server, paths = setup
    report = _download(server, paths, sources=["versions"])

    assert report["downloaded"] == sorted(local for local, _, _ in FILES if local.startswith("v"))
    assert not (paths["raw"] / "alpha").exists()
    with pytest.raises(ManifestError, match="unknown source"):
        _download(server, paths, sources=["nope"])


def test_verify_raw_dir_reports_missing_and_mismatched_files(setup) -> None:
    _, paths = setup
    _write(paths["raw"] / "alpha/README.md", b"alpha readme\n")
    _write(paths["raw"] / "alpha/data/points.csv", b"changed")

    report = verify_raw_dir(paths["raw"], sources=["alpha", "beta"], checksums=paths["checksums"])

    assert report["checked"] == 3
    assert report["ok"] == ["alpha/README.md"]
    assert report["missing"] == ["beta/OPP-115/sanitized policies/caf\u00e9.html"]
    assert report["mismatched"] == [
        {
            "path": "alpha/data/points.csv",
            "expected": hashlib.sha256(b"id,x\n1,2\n").hexdigest(),
            "actual": hashlib.sha256(b"changed").hexdigest(),
        }
    ]


def test_main_downloads_then_verifies(setup, capsys: pytest.CaptureFixture[str]) -> None:
    server, paths = setup
    common = ["--raw-dir", str(paths["raw"]), "--checksums", str(paths["checksums"])]

    assert main([*common, "--verify-only"]) == 1
    assert "missing" in capsys.readouterr().err

    argv = [*common, "--manifest", str(paths["manifest"]), "--base-url", server.base_url]
    assert main([*argv, "--source", "alpha", "--source", "beta"]) == 0
    assert main([*common, "--verify-only", "--source", "alpha", "--source", "beta"]) == 0


def test_non_http_base_url_is_refused(setup, tmp_path: Path) -> None:
    server, paths = setup
    with pytest.raises(DownloadError, match="not an http") as caught:
        download_sources(
            paths["raw"],
            sources=["alpha"],
            manifest=paths["manifest"],
            checksums=paths["checksums"],
            base_url=(tmp_path / "server").as_uri(),
        )
    assert sorted(caught.value.failures) == ["alpha/README.md", "alpha/data/points.csv"]
    assert server.requests == []


def test_manifest_rejects_unknown_keys(tmp_path: Path) -> None:
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(
        f"sources:\n  a:\n    repo: o/r\n    commit: {COMMIT_A}\n    license: x\n    licence: y\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError, match="licence"):
        load_manifest(manifest)


def test_project_manifest_covers_every_listed_file() -> None:
    """The committed checksum list and manifest agree, with no raw data and no network."""
    catalogue = load_manifest(DEFAULT_MANIFEST)
    entries = read_checksums(DEFAULT_CHECKSUMS)
    assert {entry.source for entry in entries} == set(catalogue)
    by_url: dict[str, list] = {}
    for e in entries:
        by_url.setdefault(catalogue[e.source].url_for(e.rel_path), []).append(e)
    urls = set(by_url)
    for shared in (es for es in by_url.values() if len(es) > 1):
        # The same blob may sit in two sources (an `ota_ai_changes` version that is also a
        # document's 2023-01-01 version): never twice in one source, always the same bytes.
        assert len({e.source for e in shared}) == len(shared), shared
        assert len({e.sha256 for e in shared}) == 1, shared
    assert all(url.startswith("https://raw.githubusercontent.com/") for url in urls)
    zoom = [url for url in urls if "/contrib-versions/" in url and "/Zoom/Terms%20of%20" in url]
    assert len(zoom) >= 2
    assert len({url.split("/")[5] for url in zoom}) == len(zoom)  # one commit per version


def test_project_ota_pairs_hold_no_source_text() -> None:
    with (DEFAULT_MANIFEST.parent / "ota_pairs.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert "first_added_sentence_regex_match" not in (reader.fieldnames or [])
    assert len(rows) == 39
