"""Research probes, run by hand: can a recipe learn to copy (``copy_probe``), does a model use its input
(``input_use``)."""
