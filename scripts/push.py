"""Upload an export folder to the Hugging Face Hub (see `--help`; `--dry-run` lists the files)."""

from train.hub import main

if __name__ == "__main__":
    main()
