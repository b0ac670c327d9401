"""Regenerate data/checksums.sha256 from a complete local copy of the raw data."""

import argparse
from pathlib import Path

from train.download_manifest import DEFAULT_CHECKSUMS, DEFAULT_MANIFEST, write_checksums
from train.paths import default_raw_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-dir", type=Path, default=default_raw_dir(), help="(env RAW_DIR)")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--output", type=Path, default=DEFAULT_CHECKSUMS)
    args = parser.parse_args()
    count = write_checksums(args.raw_dir, output=args.output, manifest=args.manifest)
    print(f"{args.output}: {count} files")


if __name__ == "__main__":
    main()
