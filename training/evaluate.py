"""``python -m training.evaluate MODEL_DIR``: the entry point; the code is ``training.evaluation.evaluate``."""

from training.evaluation.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
