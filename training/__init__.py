"""Training package: raw data sources, hypothesis sample builders, experiments, train, evaluate."""
