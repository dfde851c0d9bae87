"""``python -m training.compare DIR...``: the entry point; the code is ``training.evaluation.compare``."""

from training.evaluation.compare import main

if __name__ == "__main__":
    raise SystemExit(main())
