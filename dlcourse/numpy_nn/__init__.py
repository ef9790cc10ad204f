"""The network from scratch in NumPy, Part I and the NumPy halves of later lessons (modules listed in
docs/architecture.md). Nothing here imports torch, so lessons can prove the PyTorch versions equal."""
