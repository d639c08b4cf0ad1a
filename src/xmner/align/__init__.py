"""Word embeddings and their alignment into one English-Chinese space (MUSE-style)."""
