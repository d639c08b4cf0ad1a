"""Translation of NER corpora with label projection through placeholders."""
