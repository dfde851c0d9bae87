"""Evaluation, apart from the models: metrics, prediction, test evaluation with baselines, the decoding
comparison, experiment comparison, reports and the model card, conversation checks."""
