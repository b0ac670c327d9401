"""Fine-tune a ClauseWatch model (see `--help`, `--help-config`)."""

from train.training import main

if __name__ == "__main__":
    main()
