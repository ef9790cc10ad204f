"""The PyTorch side of the course, lesson 06 onward (modules listed in docs/architecture.md)."""
