"""Experiments: their config (``config``, frozen dataclasses with validation), the registry of presets
(``registry``: h1-h5 and the shipped recipes) and command-line overrides (``overrides``)."""
