"""Corpora: post records, readers and writers, BIO tags, image lookup and features."""
