"""Cross-lingual schedules, the training loop and the end-to-end experiment."""
