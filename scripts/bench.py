"""Speed / memory of every inference path and quality on real policy changes (`--help`)."""

from train.bench import main

if __name__ == "__main__":
    main()
