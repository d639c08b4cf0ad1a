"""Evaluation: seqeval-compatible metrics, error breakdown, paper tables."""
