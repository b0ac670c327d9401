"""Download the raw data sources at their pinned commits (see data/sources.yaml)."""

from train.download import main

if __name__ == "__main__":
    raise SystemExit(main())
