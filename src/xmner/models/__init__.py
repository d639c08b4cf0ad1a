"""Multimodal NER models: CRF head, ACN, UMT and checkpoints."""
