"""xmner: cross-lingual multimodal NER between English (Twitter-2015) and Chinese (CMNER)."""

__version__ = "0.1.0"
