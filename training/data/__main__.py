"""``python -m training.data``: what the data sets hold (see ``training.data.dataset``)."""

from training.data.dataset import main

raise SystemExit(main())
