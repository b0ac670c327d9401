"""Upload an export folder (`make export`) to the Hugging Face Hub.

`hf/` goes to the repository root (weights, config, tokenizer, `clausewatch.json`, model card) and
`onnx/` to `onnx/` in the repository, in one commit. The token is the usual one: `HF_TOKEN` or a
stored `hf auth login`. Every failure a user can meet (no token, offline, network, refused by the
Hub) is one sentence, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

NO_TOKEN = "No Hugging Face token found: run `hf auth login` or set HF_TOKEN."
OFFLINE = (
    "Cannot reach the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); unset it to push."
)
UNREACHABLE = "Cannot reach the Hugging Face Hub (huggingface.co): check the network connection and try again."
PARTS = (("hf", ""), ("onnx", "onnx"))  # (export subfolder, folder in the repository)


class PushError(RuntimeError):
    """A push that cannot happen, explained in one sentence."""


@dataclass(frozen=True)
class UploadFile:
    local: Path
    path_in_repo: str
    size: int


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def list_export_files(export_dir: str | Path) -> list[UploadFile]:
    """The files a push uploads, with their place in the repository."""
    export_dir = Path(export_dir)
    if not (export_dir / "hf" / "config.json").is_file():
        raise PushError(
            f"{export_dir} is not an export folder (no hf/config.json): run `make export` first."
        )
    files = []
    for part, prefix in PARTS:
        folder = export_dir / part
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if any(piece.startswith(".") for piece in Path(relative).parts):
                continue  # caches and editor files, not model files
            in_repo = f"{prefix}/{relative}" if prefix else relative
            files.append(UploadFile(path, in_repo, path.stat().st_size))
    return files


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not repo_id or "/" not in repo_id:
        raise PushError(
            f"Repository id {repo_id!r} is not of the form user/name: pass REPO_ID=user/name."
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise PushError(f"Repository id {repo_id!r} is not a valid Hub repository name.") from None


def _http_message(err) -> str:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    if status in (401, 403):
        return (
            f"The Hugging Face Hub refused the token (HTTP {status}): check it with "
            "`hf auth whoami` and that it has write access."
        )
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"The Hugging Face Hub returned an error{f' (HTTP {status})' if status else ''}: {first_line}"


def push_export(
    export_dir: str | Path,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
) -> list[str]:
    """Upload `export_dir/hf` (repository root) and `export_dir/onnx` (`onnx/`) to `repo_id`;
    returns the paths in the repository. `dry_run` prints them with sizes and uploads nothing."""
    _check_repo_id(repo_id)
    files = list_export_files(export_dir)
    readme = Path(export_dir) / "hf" / "README.md"
    stale_card = readme.is_file() and repo_id not in readme.read_text(encoding="utf-8")
    if dry_run:
        visibility = "private" if private else "public"
        print(f"dry run: would upload {len(files)} files to {repo_id} ({visibility}):")
        for f in files:
            print(f"  {f.path_in_repo:<40} {_human(f.size):>10}")
        print(f"  total {_human(sum(f.size for f in files))}")
    if stale_card:
        print(
            f"note: the model card's snippets do not name {repo_id}; "
            f"run `make export ARGS='--repo-id {repo_id}'` to fix them before pushing"
        )
    if dry_run:
        return [f.path_in_repo for f in files]

    from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    token = token or get_token()
    if not token:
        raise PushError(NO_TOKEN)
    if constants.HF_HUB_OFFLINE:
        raise PushError(OFFLINE)
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.create_commit(
            repo_id,
            operations=[CommitOperationAdd(f.path_in_repo, str(f.local)) for f in files],
            commit_message="Upload ClauseWatch model (transformers + ONNX)",
            repo_type="model",
        )
    except OfflineModeIsEnabled:
        raise PushError(OFFLINE) from None
    except HfHubHTTPError as err:
        raise PushError(_http_message(err)) from None
    except Exception as err:  # network errors come from httpx2 / the OS under several names
        if _is_network_error(err):
            raise PushError(UNREACHABLE) from None
        raise
    print(f"uploaded {len(files)} files to {url}")
    return [f.path_in_repo for f in files]


def _is_network_error(err: BaseException) -> bool:
    try:
        import httpx2

        network = (httpx2.TransportError, ConnectionError, TimeoutError)
    except ImportError:
        network = (ConnectionError, TimeoutError)
    return isinstance(err, network) or isinstance(err.__cause__, network)


def main(argv: list[str] | None = None) -> list[str]:
    """`python scripts/push.py --export outputs/latest/export --repo-id user/name [--dry-run]`."""
    parser = argparse.ArgumentParser(
        description="Upload a ClauseWatch export to the Hugging Face Hub."
    )
    parser.add_argument("--export", default="outputs/latest/export", help="export folder")
    parser.add_argument("--repo-id", nargs="?", default="", help="user/name on the Hub")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    args = parser.parse_args(argv)
    try:
        return push_export(
            args.export, args.repo_id or "", private=args.private, dry_run=args.dry_run
        )
    except PushError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
