"""Text as numbers, before any network: tokenizers written from scratch in plain Python (modules listed
in docs/architecture.md). Nothing here imports torch or NumPy."""
