"""Helpers for tests and examples: local stand-ins for downloaded models and data."""
